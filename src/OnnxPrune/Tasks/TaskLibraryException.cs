namespace OnnxPrune.Tasks;

/// <summary>A task library, one of its entries, or a task list cannot be used as asked. Messages name the file and
/// the reason.</summary>
public class TaskLibraryException : OnnxPruneException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong, naming the file.</param>
    /// <param name="path">The library folder or file concerned, when there is one.</param>
    /// <param name="inner">The underlying error.</param>
    public TaskLibraryException(string message, string? path = null, Exception? inner = null) : base(message, inner) => Path = path;

    /// <summary>The library folder or file concerned (null when none).</summary>
    public string? Path { get; }
}

/// <summary>An entry file is unreadable: truncated or altered (its SHA-256 does not match its name), not JSON of the
/// entry schema, written by a newer format version, or with inconsistent contents (a kept index outside its group).</summary>
public sealed class CorruptTaskEntryException : TaskLibraryException
{
    /// <summary>Creates the exception.</summary>
    public CorruptTaskEntryException(string file, string reason, Exception? inner = null)
        : base($"{file}: corrupt task-library entry: {reason}", file, inner) => Reason = reason;

    /// <summary>Why the entry was refused (without the file name).</summary>
    public string Reason { get; }
}

/// <summary>An entry was recorded on another base model than the one asked for: its keep-masks index the units of a
/// different network and must not be combined with this one's.</summary>
public sealed class BaseModelMismatchException : TaskLibraryException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="expected">The fingerprint of the base model in use.</param>
    /// <param name="found">The fingerprint the entry was recorded on.</param>
    /// <param name="file">The entry file.</param>
    /// <param name="count">How many entries of the library were recorded on other base models.</param>
    public BaseModelMismatchException(string expected, string found, string file, int count = 1)
        : base($"{file}: task-library entry was recorded on base model {found}, not on {expected} (the model in use)" +
               (count > 1 ? $"; {count} entries of this library are from other base models" : "") +
               ". Use a library filled on this model, or list only this model's entries (filter by fingerprint).", file)
    {
        Expected = expected;
        Found = found;
    }

    /// <summary>The fingerprint of the base model in use.</summary>
    public string Expected { get; }

    /// <summary>The fingerprint the entry was recorded on.</summary>
    public string Found { get; }
}

/// <summary>A task list (<c>TASKS.txt</c>) line or a <c>--shard I/N</c> value is malformed.</summary>
public sealed class TaskListFormatException : TaskLibraryException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">The reason, already naming the file and line when there is one.</param>
    /// <param name="path">The task-list file (null for a shard value).</param>
    /// <param name="line">The 1-based line number (0 when not from a file).</param>
    public TaskListFormatException(string message, string? path = null, int line = 0) : base(message, path) => Line = line;

    /// <summary>The 1-based line number in the task list (0 when not from a file).</summary>
    public int Line { get; }
}
