using System.Globalization;
using OnnxPrune.Analysis;

namespace OnnxPrune.Pruning;

/// <summary>How much to prune. One of <see cref="UniformRatioBudget"/>, <see cref="GlobalRatioBudget"/>, <see cref="TargetBudget"/>.</summary>
public abstract record PruningBudget
{
    private protected PruningBudget() { }

    /// <summary>
    /// The budget from the mutually exclusive settings a CLI or a pipeline file binds: a <paramref name="ratio"/> (per group,
    /// or across all groups with <paramref name="global"/>) or one target (parameters, MACs, weight bytes). Checks that
    /// <paramref name="ranking"/> <see cref="UnitRanking.ScorePerCost"/> goes with a target.
    /// </summary>
    /// <exception cref="ArgumentException">None or several given, <paramref name="global"/> without a ratio, or
    /// score-per-cost ranking without a target.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A ratio outside [0, 1).</exception>
    public static PruningBudget Select(double? ratio, bool global = false, long? targetParameters = null, long? targetMacs = null, long? targetBytes = null,
        UnitRanking ranking = UnitRanking.Score)
    {
        int given = (ratio.HasValue ? 1 : 0) + (targetParameters.HasValue ? 1 : 0) + (targetMacs.HasValue ? 1 : 0) + (targetBytes.HasValue ? 1 : 0);
        if (given != 1) throw new ArgumentException("Give exactly one budget: --ratio, --target-params, --target-macs or --target-bytes.");
        if (global && !ratio.HasValue) throw new ArgumentException("--global goes with --ratio (targets always rank globally).");
        if (ranking == UnitRanking.ScorePerCost && ratio.HasValue) throw new ArgumentException("--per-cost goes with --target-params, --target-macs or --target-bytes.");
        if (ratio is double r) return global ? new GlobalRatioBudget(r) : new UniformRatioBudget(r);
        if (targetParameters is long p) return new TargetBudget(CostMetric.Parameters, p);
        if (targetMacs is long m) return new TargetBudget(CostMetric.Macs, m);
        return new TargetBudget(CostMetric.WeightBytes, targetBytes!.Value);
    }

    /// <summary>Short text for reports, e.g. "ratio 0.5 per group".</summary>
    public abstract string Describe();

    /// <summary>Checks a ratio is in [0, 1).</summary>
    private protected static double CheckRatio(double ratio) =>
        ratio is >= 0 and < 1 ? ratio : throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "The pruning ratio must be in [0, 1).");
}

/// <summary>Every prunable group keeps <c>round(size·(1−Ratio))</c> units (midpoints away from zero), then round-to and minimums apply.</summary>
public sealed record UniformRatioBudget : PruningBudget
{
    /// <summary>Creates the budget.</summary>
    public UniformRatioBudget(double ratio) => Ratio = CheckRatio(ratio);

    /// <summary>Fraction of each group's units removed, in [0, 1).</summary>
    public double Ratio { get; }

    /// <inheritdoc/>
    public override string Describe() => string.Create(CultureInfo.InvariantCulture, $"ratio {Ratio} per group");
}

/// <summary>One threshold across all groups: the <c>round(Ratio·Σ sizes)</c> globally least important units (by
/// normalised score) are removed, subject to minimums and round-to.</summary>
public sealed record GlobalRatioBudget : PruningBudget
{
    /// <summary>Creates the budget.</summary>
    public GlobalRatioBudget(double ratio) => Ratio = CheckRatio(ratio);

    /// <summary>Fraction of all prunable units removed, in [0, 1).</summary>
    public double Ratio { get; }

    /// <inheritdoc/>
    public override string Describe() => string.Create(CultureInfo.InvariantCulture, $"global ratio {Ratio}");
}

/// <summary>Remove the globally least important units until the model's <see cref="Metric"/> is at most <see cref="Target"/>.</summary>
/// <param name="Metric">Parameters, MACs or weight bytes.</param>
/// <param name="Target">The largest acceptable value.</param>
public sealed record TargetBudget(CostMetric Metric, long Target) : PruningBudget
{
    /// <inheritdoc/>
    public override string Describe() => string.Create(CultureInfo.InvariantCulture, $"target {Metric switch
    {
        CostMetric.Macs => "MACs",
        CostMetric.WeightBytes => "weight bytes",
        _ => "parameters",
    }} ≤ {Target}");
}
