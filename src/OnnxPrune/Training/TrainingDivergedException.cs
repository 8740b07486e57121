namespace OnnxPrune.Training;

/// <summary>The training loss became NaN or infinite; the weights are no longer usable.</summary>
public sealed class TrainingDivergedException : OnnxPruneException
{
    /// <summary>Creates the exception.</summary>
    public TrainingDivergedException(string message) : base(message) { }
}
