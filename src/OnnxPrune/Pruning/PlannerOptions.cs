namespace OnnxPrune.Pruning;

/// <summary>Constraints the planner respects for every budget.</summary>
public sealed record PlannerOptions
{
    /// <summary>Kept counts are multiples of this (never 0); a group may also stay whole. Default 1.</summary>
    public long RoundTo { get; init; } = 1;

    /// <summary>Fewest units any group keeps (the larger of this and the group's own minimum). Default 1.</summary>
    public long MinKeep { get; init; } = 1;

    /// <summary>Names of nodes (or constants) never pruned: every group that edits them (as root, as an item's node,
    /// or through one of their constants) stays whole. Unknown names are an error.</summary>
    public IReadOnlyCollection<string> ProtectedNodes { get; init; } = Array.Empty<string>();

    /// <summary>Group ids never pruned.</summary>
    public IReadOnlyCollection<int> ProtectedGroups { get; init; } = Array.Empty<int>();

    /// <summary>How target budgets rank units across groups (default <see cref="UnitRanking.Score"/>).</summary>
    public UnitRanking Ranking { get; init; } = UnitRanking.Score;

    /// <summary>Seed for breaking ties between equal scores (e.g. all-zero filters), so ties do not always prune the
    /// last units. Default 0.</summary>
    public long Seed { get; init; }
}

/// <summary>The key by which target budgets rank units across groups.</summary>
public enum UnitRanking
{
    /// <summary>Normalised score alone (default): the least important units go first, whatever they cost.</summary>
    Score,

    /// <summary>Normalised score divided by the unit's first-order cost in the target's metric
    /// (<see cref="Analysis.CostModel.PerUnit"/>): cheap-to-keep units are spared, expensive ones go first, so fewer
    /// units are removed to meet the target. Tends to thin the most expensive layers hardest.</summary>
    ScorePerCost,
}
