using System.Globalization;
using OnnxPrune.Analysis;

namespace OnnxPrune.Pruning;

/// <summary>How much to prune. One of <see cref="UniformRatioBudget"/>, <see cref="GlobalRatioBudget"/>, <see cref="TargetBudget"/>.</summary>
public abstract record PruningBudget
{
    private protected PruningBudget() { }

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
