using System.Globalization;

namespace OnnxPrune.Tasks;

/// <summary>One shard of a task list: <c>--shard I/N</c> takes the tasks whose 0-based index i has i mod N = I, so N
/// processes with I = 0 … N−1 (a Kubernetes Indexed Job's <c>JOB_COMPLETION_INDEX</c>, a CI matrix index) together run
/// every task exactly once, and each shard's share differs by at most one task.</summary>
/// <param name="Index">This shard, in [0, Count).</param>
/// <param name="Count">Number of shards, at least 1.</param>
public sealed record ShardSpec(int Index, int Count)
{
    /// <summary>The whole list (shard 0 of 1).</summary>
    public static ShardSpec All { get; } = new(0, 1);

    /// <summary>Parses <c>I/N</c> (0 ≤ I &lt; N).</summary>
    /// <exception cref="TaskListFormatException">Not of that form, or I outside [0, N).</exception>
    public static ShardSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Trim().Split('/');
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int i)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            throw new TaskListFormatException($"--shard '{text}': expected I/N with whole numbers, e.g. 0/4.");
        if (n < 1) throw new TaskListFormatException($"--shard '{text}': the shard count N must be at least 1.");
        if (i >= n) throw new TaskListFormatException($"--shard '{text}': the shard index I must be in [0, {n}) (Kubernetes' JOB_COMPLETION_INDEX is 0-based).");
        return new ShardSpec(i, n);
    }

    /// <summary>True when the task with this 0-based index belongs to this shard.</summary>
    public bool Contains(int taskIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(taskIndex);
        return taskIndex % Count == Index;
    }

    /// <summary>This shard's tasks, in list order.</summary>
    public IReadOnlyList<TaskSpec> Select(IReadOnlyList<TaskSpec> tasks)
    {
        ArgumentNullException.ThrowIfNull(tasks);
        return tasks.Where(t => Contains(t.Index)).ToList();
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");
}
