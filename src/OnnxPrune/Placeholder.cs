namespace OnnxPrune;
/// <summary>Placeholder.</summary>
public static class Placeholder { }
