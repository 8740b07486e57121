using OnnxPrune.Analysis;

namespace OnnxPrune.Pruning;

/// <summary>Why a group ended with its kept count.</summary>
public enum GroupStatus
{
    /// <summary>Some units removed.</summary>
    Pruned,
    /// <summary>Prunable, but the budget removed nothing from it.</summary>
    Unchanged,
    /// <summary>Protected by the options.</summary>
    Protected,
    /// <summary>The criterion gave no scores for it.</summary>
    Unscored,
    /// <summary>Blocked by the analysis (no mask is produced).</summary>
    Blocked,
}

/// <summary>The planner's decision for one group.</summary>
/// <param name="Group">The group.</param>
/// <param name="Kept">Units kept (the group's size when not pruned).</param>
/// <param name="Status">What happened.</param>
/// <param name="Reason">Why, for blocked, protected and unscored groups.</param>
public sealed record GroupDecision(PruningGroup Group, long Kept, GroupStatus Status, string? Reason = null);

/// <summary>The planner's output: keep-masks for surgery, and its decisions for the report.</summary>
public sealed record PruningPlan
{
    /// <summary>One mask per non-blocked group, in group order (whole masks for unpruned groups).</summary>
    public required IReadOnlyList<KeepMask> Masks { get; init; }

    /// <summary>One decision per group, in group order.</summary>
    public required IReadOnlyList<GroupDecision> Decisions { get; init; }

    /// <summary>The budget planned for.</summary>
    public required PruningBudget Budget { get; init; }

    /// <summary>Predicted cost after surgery, when the planner had a cost model.</summary>
    public ModelCost? Estimated { get; init; }

    /// <summary>Units removed in all.</summary>
    public long RemovedUnits => Decisions.Sum(d => d.Group.Size - d.Kept);
}
