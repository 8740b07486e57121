using OnnxPrune.Analysis;

namespace OnnxPrune.Pruning;

/// <summary>The units of one group that survive pruning: ascending, distinct, within [0, group size).</summary>
public sealed record KeepMask
{
    /// <summary>Creates a mask, validating the indices.</summary>
    /// <exception cref="PruningConstraintException">Indices out of range, unsorted, duplicated, or fewer than the group's minimum.</exception>
    public KeepMask(PruningGroup group, IReadOnlyList<long> kept)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(kept);
        for (int i = 0; i < kept.Count; i++)
        {
            if (kept[i] < 0 || kept[i] >= group.Size)
                throw new PruningConstraintException($"Group #{group.Id} ({group.Root.DisplayName}): kept index {kept[i]} is outside [0, {group.Size}).");
            if (i > 0 && kept[i] <= kept[i - 1])
                throw new PruningConstraintException($"Group #{group.Id} ({group.Root.DisplayName}): kept indices must be ascending and distinct.");
        }
        if (kept.Count < group.MinKeep)
            throw new PruningConstraintException($"Group #{group.Id} ({group.Root.DisplayName}): keeps {kept.Count} units, at least {group.MinKeep} required.");
        Group = group;
        Kept = kept.ToArray();
    }

    /// <summary>The group.</summary>
    public PruningGroup Group { get; }

    /// <summary>Kept unit indices, ascending.</summary>
    public IReadOnlyList<long> Kept { get; }

    /// <summary>True when every unit is kept.</summary>
    public bool KeepsAll => Kept.Count == Group.Size;

    /// <summary>Keeps every unit.</summary>
    public static KeepMask All(PruningGroup group) => new(group, Enumerable.Range(0, checked((int)group.Size)).Select(i => (long)i).ToArray());
}
