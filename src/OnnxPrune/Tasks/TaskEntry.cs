using System.Reflection;
using System.Text.Json.Serialization;

namespace OnnxPrune.Tasks;

/// <summary>
/// One task of a <see cref="TaskLibrary"/>: what the task is, how it embeds, which base model it was pruned from,
/// the keep-mask its (expensive, iterative) pruning chose per group, and what that cost and achieved. Immutable once
/// written; its <see cref="Id"/> is the SHA-256 of its file (format: <c>Tasks/TASKS.md</c>).
/// </summary>
public sealed record TaskEntry
{
    /// <summary>The entry format this version writes and the newest it reads.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>The id: lower-case hex SHA-256 of the entry file's bytes (its file name without <c>.json</c>). Set by
    /// the library when the entry is written or read; empty on an entry not yet added.</summary>
    [JsonIgnore]
    public string Id { get; init; } = "";

    /// <summary>The entry format version (readers refuse newer versions).</summary>
    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>What the task is.</summary>
    public required TaskDescriptor Task { get; init; }

    /// <summary>Fingerprint (SHA-256 string) of the base model the masks index; entries of another base are refused.</summary>
    public required string BaseFingerprint { get; init; }

    /// <summary>Task embeddings by kind (<see cref="TaskEmbeddingKinds"/>): finite float vectors.</summary>
    public IReadOnlyDictionary<string, float[]> Embeddings { get; init; } = new Dictionary<string, float[]>();

    /// <summary>Keep-mask per pruning group, keyed by the group's stable key.</summary>
    public required IReadOnlyDictionary<string, GroupMask> Masks { get; init; }

    /// <summary>The budget the task was pruned to.</summary>
    public required TaskBudget Budget { get; init; }

    /// <summary>Accuracy of the pruned, fine-tuned model on the task's test data, in [0, 1].</summary>
    public double Accuracy { get; init; }

    /// <summary>Training steps spent producing the entry (all rounds).</summary>
    public long Steps { get; init; }

    /// <summary>Process CPU seconds spent producing the entry.</summary>
    public double CpuSeconds { get; init; }

    /// <summary>The OnnxPrune version that wrote the entry (defaults to this assembly's).</summary>
    public string OnnxPruneVersion { get; init; } = CurrentOnnxPruneVersion;

    /// <summary>When the entry was made (UTC).</summary>
    public DateTimeOffset CreatedUtc { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>Free-form facts about how the entry was made (e.g. <c>criterion</c>, <c>rounds</c>, <c>seed</c>).</summary>
    public IReadOnlyDictionary<string, string> Properties { get; init; } = new Dictionary<string, string>();

    /// <summary>This assembly's informational version (without source-revision suffix).</summary>
    public static string CurrentOnnxPruneVersion { get; } =
        (typeof(TaskEntry).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
         ?? typeof(TaskEntry).Assembly.GetName().Version?.ToString() ?? "0.0.0").Split('+')[0];

    /// <summary>Short id for display (first 12 hex digits).</summary>
    [JsonIgnore]
    public string ShortId => Id.Length > 12 ? Id[..12] : Id;

    /// <summary>Checks the entry's contents; returns null when valid, else the first problem.</summary>
    public string? Problem()
    {
        if (FormatVersion < 1 || FormatVersion > CurrentFormatVersion)
            return $"format version {FormatVersion} is not supported (this OnnxPrune reads 1..{CurrentFormatVersion}; a newer OnnxPrune wrote it?)";
        if (Task is null) return "task is missing";
        if (Task.Problem() is { } t) return t;
        if (string.IsNullOrWhiteSpace(BaseFingerprint)) return "baseFingerprint is empty";
        if (Budget is null) return "budget is missing";
        if (Budget.Problem() is { } b) return b;
        if (Masks is null || Masks.Count == 0) return "masks are missing";
        foreach (var (key, mask) in Masks)
        {
            if (string.IsNullOrEmpty(key)) return "a mask has an empty group key";
            if (mask is null) return $"mask of group '{key}' is null";
            if (mask.Problem() is { } m) return $"mask of group '{key}': {m}";
        }
        if (Embeddings is null) return "embeddings is null";
        foreach (var (kind, v) in Embeddings)
        {
            if (v is null || v.Length == 0) return $"embedding '{kind}' is empty";
            if (!Array.TrueForAll(v, float.IsFinite)) return $"embedding '{kind}' has a non-finite value";
        }
        if (!double.IsFinite(Accuracy) || Accuracy is < 0 or > 1) return $"accuracy {Accuracy} is outside [0, 1]";
        if (Steps < 0) return "steps is negative";
        if (!double.IsFinite(CpuSeconds) || CpuSeconds < 0) return "cpuSeconds is negative or not finite";
        if (OnnxPruneVersion is null) return "onnxPruneVersion is missing";
        if (Properties is null) return "properties is null";
        return null;
    }
}

/// <summary>The embedding kinds OnnxPrune computes and compares (keys of <see cref="TaskEntry.Embeddings"/>).</summary>
public static class TaskEmbeddingKinds
{
    /// <summary>The base model's penultimate features on the task's data: per-class means concatenated in ascending
    /// class id order (d floats per class), or one task mean (d floats) for tasks without classes.</summary>
    public const string Features = "features";

    /// <summary>The diagonal Fisher information of the base model's weights on the task's data (Task2Vec-style),
    /// non-negative, one float per weight (or per pooled weight block), in a fixed order for one base model.</summary>
    public const string Fisher = "fisher";
}
