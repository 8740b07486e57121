using OnnxPrune.Analysis;

namespace OnnxPrune.Pruning.Importance;

/// <summary>
/// Per-unit importance of each scored group: group id → one score per unit (higher = more important).
/// Scores of different groups are comparable (normalised by the criterion) so that one global ranking is fair.
/// </summary>
public sealed class GroupScores
{
    private readonly Dictionary<int, double[]> _scores = new();

    /// <summary>Creates an empty set for <paramref name="criterion"/>.</summary>
    public GroupScores(string criterion) => Criterion = criterion ?? throw new ArgumentNullException(nameof(criterion));

    /// <summary>The criterion that produced the scores.</summary>
    public string Criterion { get; }

    /// <summary>Scored group ids → scores.</summary>
    public IReadOnlyDictionary<int, double[]> ByGroup => _scores;

    /// <summary>Number of scored groups.</summary>
    public int Count => _scores.Count;

    /// <summary>The scores of a group.</summary>
    /// <exception cref="KeyNotFoundException">The group was not scored.</exception>
    public double[] this[int groupId] => _scores[groupId];

    /// <summary>True and the scores when the group was scored.</summary>
    public bool TryGet(int groupId, out double[] scores)
    {
        if (_scores.TryGetValue(groupId, out var s)) { scores = s; return true; }
        scores = Array.Empty<double>();
        return false;
    }

    /// <summary>Sets a group's scores (one per unit; NaN is rejected).</summary>
    /// <exception cref="ArgumentException">Wrong length or a NaN score.</exception>
    public void Set(PruningGroup group, double[] scores)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(scores);
        if (scores.LongLength != group.Size)
            throw new ArgumentException($"Group #{group.Id} ({group.Root.DisplayName}) has {group.Size} units, got {scores.Length} scores.", nameof(scores));
        foreach (var s in scores)
            if (double.IsNaN(s)) throw new ArgumentException($"Group #{group.Id} ({group.Root.DisplayName}): NaN score.", nameof(scores));
        _scores[group.Id] = scores;
    }
}
