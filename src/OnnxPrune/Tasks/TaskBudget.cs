using System.Globalization;
using System.Text.Json.Serialization;
using OnnxPrune.Analysis;
using OnnxPrune.Pruning;

namespace OnnxPrune.Tasks;

/// <summary>The kind of budget a library entry was pruned to (its JSON spelling in brackets).</summary>
public enum TaskBudgetKind
{
    /// <summary>Every group loses the same fraction of units (<c>ratio</c>; <see cref="UniformRatioBudget"/>).</summary>
    [JsonStringEnumMemberName("ratio")] Ratio,
    /// <summary>One global fraction of all prunable units (<c>global-ratio</c>; <see cref="GlobalRatioBudget"/>).</summary>
    [JsonStringEnumMemberName("global-ratio")] GlobalRatio,
    /// <summary>At most this many parameters (<c>params</c>).</summary>
    [JsonStringEnumMemberName("params")] Parameters,
    /// <summary>At most this many MACs (<c>macs</c>).</summary>
    [JsonStringEnumMemberName("macs")] Macs,
    /// <summary>At most this many weight bytes (<c>bytes</c>).</summary>
    [JsonStringEnumMemberName("bytes")] WeightBytes,
}

/// <summary>The pruning budget of a library entry: its kind and value (a ratio in [0, 1) or a target count).</summary>
public sealed record TaskBudget
{
    /// <summary>The kind.</summary>
    public required TaskBudgetKind Kind { get; init; }

    /// <summary>The ratio (ratio kinds) or the target (parameters, MACs, bytes).</summary>
    public required double Value { get; init; }

    /// <summary>Records a planner budget.</summary>
    public static TaskBudget From(PruningBudget budget) => budget switch
    {
        UniformRatioBudget u => new() { Kind = TaskBudgetKind.Ratio, Value = u.Ratio },
        GlobalRatioBudget g => new() { Kind = TaskBudgetKind.GlobalRatio, Value = g.Ratio },
        TargetBudget { Metric: CostMetric.Parameters } t => new() { Kind = TaskBudgetKind.Parameters, Value = t.Target },
        TargetBudget { Metric: CostMetric.Macs } t => new() { Kind = TaskBudgetKind.Macs, Value = t.Target },
        TargetBudget { Metric: CostMetric.WeightBytes } t => new() { Kind = TaskBudgetKind.WeightBytes, Value = t.Target },
        null => throw new ArgumentNullException(nameof(budget)),
        _ => throw new ArgumentException($"Unknown budget {budget.GetType().Name}.", nameof(budget)),
    };

    /// <summary>The planner budget this records.</summary>
    public PruningBudget ToPruningBudget() => Kind switch
    {
        TaskBudgetKind.Ratio => new UniformRatioBudget(Value),
        TaskBudgetKind.GlobalRatio => new GlobalRatioBudget(Value),
        TaskBudgetKind.Parameters => new TargetBudget(CostMetric.Parameters, checked((long)Value)),
        TaskBudgetKind.Macs => new TargetBudget(CostMetric.Macs, checked((long)Value)),
        TaskBudgetKind.WeightBytes => new TargetBudget(CostMetric.WeightBytes, checked((long)Value)),
        _ => throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "Unknown budget kind."),
    };

    /// <summary>Short text, e.g. <c>ratio 0.5</c> or <c>params ≤ 120000</c>.</summary>
    public string Describe() => Kind switch
    {
        TaskBudgetKind.Ratio => string.Create(CultureInfo.InvariantCulture, $"ratio {Value}"),
        TaskBudgetKind.GlobalRatio => string.Create(CultureInfo.InvariantCulture, $"global ratio {Value}"),
        TaskBudgetKind.Parameters => string.Create(CultureInfo.InvariantCulture, $"params ≤ {Value}"),
        TaskBudgetKind.Macs => string.Create(CultureInfo.InvariantCulture, $"MACs ≤ {Value}"),
        _ => string.Create(CultureInfo.InvariantCulture, $"bytes ≤ {Value}"),
    };

    internal string? Problem() =>
        !Enum.IsDefined(Kind) ? $"unknown budget kind {(int)Kind}"
        : !double.IsFinite(Value) ? "budget.value is not finite"
        : Kind is TaskBudgetKind.Ratio or TaskBudgetKind.GlobalRatio && Value is < 0 or >= 1 ? $"budget ratio {Value} is outside [0, 1)"
        : Kind is not (TaskBudgetKind.Ratio or TaskBudgetKind.GlobalRatio) && (Value < 0 || Value != Math.Floor(Value)) ? $"budget target {Value} is not a non-negative integer"
        : null;
}
