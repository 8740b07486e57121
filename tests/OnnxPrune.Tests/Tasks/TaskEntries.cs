using OnnxPrune.Tasks;

namespace OnnxPrune.Tests.Tasks;

/// <summary>Builds task-library entries for tests.</summary>
internal static class TaskEntries
{
    public const string BaseA = "3f1c0ffee0000000000000000000000000000000000000000000000000000a01";
    public const string BaseB = "9b2deadbeef00000000000000000000000000000000000000000000000000b02";

    /// <summary>An entry with the given masks (group key → size, kept) and optional embeddings.</summary>
    public static TaskEntry Make(int[] classes, Dictionary<string, (long Size, long[] Kept)> masks, string fingerprint = BaseA,
        float[]? features = null, float[]? fisher = null, DateTimeOffset? created = null, string dataSet = "fashion-mnist")
    {
        var embeddings = new Dictionary<string, float[]>();
        if (features is not null) embeddings[TaskEmbeddingKinds.Features] = features;
        if (fisher is not null) embeddings[TaskEmbeddingKinds.Fisher] = fisher;
        return new TaskEntry
        {
            Task = new TaskDescriptor { DataSet = dataSet, Classes = classes },
            BaseFingerprint = fingerprint,
            Embeddings = embeddings,
            Masks = masks.ToDictionary(kv => kv.Key, kv => GroupMask.Create(kv.Value.Size, kv.Value.Kept)),
            Budget = new TaskBudget { Kind = TaskBudgetKind.Ratio, Value = 0.5 },
            Accuracy = 0.9,
            Steps = 600,
            CpuSeconds = 42.5,
            CreatedUtc = created ?? new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero),
        };
    }

    /// <summary>A small entry distinguished by its classes (and creation time).</summary>
    public static TaskEntry Simple(int[] classes, string fingerprint = BaseA, int minute = 0) =>
        Make(classes, new() { ["conv1"] = (8, [0, 2, 4, 6]), ["conv2"] = (4, [1, 3]) }, fingerprint,
            features: [1, 2, 3, 4, 5, 6], created: new DateTimeOffset(2026, 12, 1, 12, minute, 0, TimeSpan.Zero));
}
