namespace OnnxPrune.Pruning.Importance;

/// <summary>A scores file (<see cref="ExternalScores.Load"/>) is not in the expected format, or its content does not
/// fit the model's groups (a score array of the wrong length). The message names the file and the offending key.</summary>
public sealed class ScoresFormatException : OnnxPruneException
{
    /// <summary>Creates the exception.</summary>
    public ScoresFormatException(string path, string message, Exception? inner = null) : base($"{path}: {message}", inner) => Path = path;

    /// <summary>The scores file.</summary>
    public string Path { get; }
}
