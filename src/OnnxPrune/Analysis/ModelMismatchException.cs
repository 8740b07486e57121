namespace OnnxPrune.Analysis;

/// <summary>Records (scores, keep-masks) made for one model were applied to another: their fingerprints differ.</summary>
public sealed class ModelMismatchException : OnnxPruneException
{
    /// <summary>Creates the exception; the message names the source and both fingerprints.</summary>
    public ModelMismatchException(string source, ModelFingerprint expected, ModelFingerprint actual)
        : base($"{source} was made for the model with fingerprint {expected}, but this model's fingerprint is {actual}.")
    {
        Origin = source;
        Expected = expected;
        Actual = actual;
    }

    /// <summary>What holds the records (a file path, a task library entry).</summary>
    public string Origin { get; }

    /// <summary>The fingerprint the records were made for.</summary>
    public ModelFingerprint Expected { get; }

    /// <summary>The fingerprint of the model they were applied to.</summary>
    public ModelFingerprint Actual { get; }
}
