using OnnxPrune.Analysis;

namespace OnnxPrune.Pruning;

/// <summary>One group in a <see cref="PruneReport"/>.</summary>
/// <param name="Id">Group id.</param>
/// <param name="Kind">Unit kind.</param>
/// <param name="Root">Root node's display name.</param>
/// <param name="Kept">Units kept.</param>
/// <param name="Total">Units before pruning.</param>
/// <param name="Status">Pruned, unchanged, protected, unscored or blocked.</param>
/// <param name="Reason">Why it was blocked, protected or unscored; null otherwise.</param>
/// <param name="Key">The group's stable key (<see cref="PruningGroup.Key"/>); null in reports built by hand.</param>
public sealed record PrunedGroupReport(int Id, GroupKind Kind, string Root, long Kept, long Total, GroupStatus Status, string? Reason, string? Key = null);

/// <summary>Result of an equivalence check of the pruned model against the masked original.</summary>
/// <param name="MaxRelativeDifference">max|pruned − reference| / max(max|reference|, floor) per output, largest over all outputs and inputs tried.</param>
/// <param name="Samples">Random input sets tried.</param>
/// <param name="Passed">True when within <paramref name="Tolerance"/>.</param>
/// <param name="Tolerance">The threshold used.</param>
public sealed record VerificationResult(double MaxRelativeDifference, int Samples, bool Passed, double Tolerance);

/// <summary>What a pruning run did: per-group decisions, costs before and after, and timings.</summary>
public sealed record PruneReport
{
    /// <summary>Criterion name.</summary>
    public required string Criterion { get; init; }

    /// <summary>Budget, as text.</summary>
    public required string Budget { get; init; }

    /// <summary>Round-to used.</summary>
    public long RoundTo { get; init; } = 1;

    /// <summary>Minimum kept per group used.</summary>
    public long MinKeep { get; init; } = 1;

    /// <summary>Protected node names.</summary>
    public IReadOnlyList<string> ProtectedNodes { get; init; } = Array.Empty<string>();

    /// <summary>Every group of the analysis.</summary>
    public required IReadOnlyList<PrunedGroupReport> Groups { get; init; }

    /// <summary>Cost of the original model.</summary>
    public required ModelCost Before { get; init; }

    /// <summary>Cost of the pruned model, counted on the real pruned graph.</summary>
    public required ModelCost After { get; init; }

    /// <summary>The planner's prediction of <see cref="After"/> (made without surgery).</summary>
    public ModelCost? Estimated { get; init; }

    /// <summary>False when some Conv/Gemm/MatMul MACs could not be counted (symbolic dims without values).</summary>
    public bool MacsComplete { get; init; } = true;

    /// <summary>Symbolic dims that were needed but not given.</summary>
    public IReadOnlyList<string> MissingDims { get; init; } = Array.Empty<string>();

    /// <summary>Milliseconds per stage (analyze, score, plan, surgery, count).</summary>
    public required IReadOnlyDictionary<string, double> TimingsMs { get; init; }

    /// <summary>The equivalence check, when one was run.</summary>
    public VerificationResult? Verification { get; init; }

    /// <summary>After ÷ before for parameters.</summary>
    public double ParameterRatio => Before.Parameters == 0 ? 1 : (double)After.Parameters / Before.Parameters;

    /// <summary>After ÷ before for MACs.</summary>
    public double MacsRatio => Before.Macs == 0 ? 1 : (double)After.Macs / Before.Macs;

    /// <summary>After ÷ before for weight bytes.</summary>
    public double WeightBytesRatio => Before.WeightBytes == 0 ? 1 : (double)After.WeightBytes / Before.WeightBytes;
}
