using System.Globalization;

namespace OnnxPrune.Tasks;

/// <summary>What a task is: a data set and the subset of its classes it classifies, or a free label for tasks that
/// are not a class subset (a user's own data set).</summary>
public sealed record TaskDescriptor
{
    /// <summary>The data set id as the CLI's <c>--data</c> names it, e.g. <c>fashion-mnist</c>.</summary>
    public required string DataSet { get; init; }

    /// <summary>The classes of <see cref="DataSet"/> the task uses, in the task's own order (its logit order); null
    /// when the task is not a class subset.</summary>
    public IReadOnlyList<int>? Classes { get; init; }

    /// <summary>A user label (free text); required when <see cref="Classes"/> is null.</summary>
    public string? Label { get; init; }

    /// <summary>Short text for lists, e.g. <c>fashion-mnist [0,3,7]</c> or <c>npy:/data/x "shoes"</c>.</summary>
    public string Describe() =>
        DataSet + (Classes is { } c ? " [" + string.Join(",", c.Select(x => x.ToString(CultureInfo.InvariantCulture))) + "]" : "")
                + (Label is { Length: > 0 } l ? $" \"{l}\"" : "");

    /// <summary>True when both name the same data set and the same classes (as a set) and label.</summary>
    public bool SameTask(TaskDescriptor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (!string.Equals(DataSet, other.DataSet, StringComparison.Ordinal) || !string.Equals(Label, other.Label, StringComparison.Ordinal))
            return false;
        if (Classes is null || other.Classes is null) return Classes is null && other.Classes is null;
        return Classes.ToHashSet().SetEquals(other.Classes);
    }

    /// <summary>Checks the descriptor; returns null when valid, else the reason.</summary>
    internal string? Problem()
    {
        if (string.IsNullOrWhiteSpace(DataSet)) return "task.dataSet is empty";
        if (Classes is null && string.IsNullOrWhiteSpace(Label)) return "the task has neither classes nor a label";
        if (Classes is { } c)
        {
            if (c.Count == 0) return "task.classes is empty";
            if (c.Any(x => x < 0)) return "task.classes has a negative class id";
            if (c.Distinct().Count() != c.Count) return "task.classes repeats a class";
        }
        return null;
    }
}
