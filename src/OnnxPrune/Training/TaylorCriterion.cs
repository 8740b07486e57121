using System.Numerics.Tensors;
using OnnxPrune.Pruning.Importance;
using OnnxPrune.Runtime;

namespace OnnxPrune.Training;

/// <summary>
/// First-order Taylor importance (Molchanov et al. 2019): a unit is as important as the loss change its removal would
/// cause to first order, |w · ∂L/∂w| summed over every element of the unit's coupled scored slices (its filter, bias,
/// BN γ/β, the next layer's input-channel slices …) and accumulated over a few batches of
/// <see cref="ImportanceContext.Data"/> (which must carry targets). Every floating-point constant slice coupled to the unit
/// counts, biases included (unlike the magnitude criteria, which read the scored slices only). Gradients come from the training graph
/// (<see cref="GradientBuilder"/>, frozen BatchNormalization). Lives in Training because it needs the gradient graph;
/// it plugs into the pruning pipeline as any <see cref="IImportanceCriterion"/>.
/// </summary>
public sealed class TaylorCriterion : IImportanceCriterion
{
    /// <summary>Creates the criterion.</summary>
    /// <param name="batches">Batches to accumulate over (≥ 1).</param>
    /// <param name="normalization">How scores are made comparable across groups (default: divide by the group mean).</param>
    /// <param name="sessionSettings">ONNX Runtime options of the gradient session.</param>
    public TaylorCriterion(int batches = 4, ScoreNormalization normalization = ScoreNormalization.Mean, SessionSettings? sessionSettings = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batches, 1);
        Batches = batches;
        Normalization = normalization;
        SessionSettings = sessionSettings ?? new SessionSettings { AllowSpinning = false };
    }

    /// <summary>Batches accumulated.</summary>
    public int Batches { get; }

    /// <summary>How scores are made comparable across groups.</summary>
    public ScoreNormalization Normalization { get; }

    /// <summary>ONNX Runtime options of the gradient session.</summary>
    public SessionSettings SessionSettings { get; }

    /// <inheritdoc/>
    public string Name => "taylor";

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The context has no data.</exception>
    public async ValueTask<GroupScores> ScoreAsync(ImportanceContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Data is null) throw new ArgumentException("The Taylor criterion needs batches with targets (ImportanceContext.Data).", nameof(context));
        var slices = new WeightSlices();
        var scored = context.Groups.Where(g => !g.IsBlocked).ToDictionary(g => g, g => Coupled(g, slices));
        var names = scored.Values.SelectMany(s => s).Select(s => s.Constant.Name).ToHashSet(StringComparer.Ordinal);
        var sums = await GradientStatistics.ComputeAsync(context.Model, context.Data, Batches, names, SessionSettings, context.Progress, cancellationToken).ConfigureAwait(false);
        var result = new GroupScores(Name);
        foreach (var (group, list) in scored)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var raw = new double[group.Size];
            long elementsPerUnit = 0;
            bool any = false;
            foreach (var s in list)
            {
                if (!sums.AbsWeightTimesGradient.TryGetValue(s.Constant.Name, out var acc)) continue;
                any = true;
                var perPosition = s.WithData(acc).PerPosition(squares: false) /* acc ≥ 0: Σ|x| = Σx */;
                elementsPerUnit += s.ElementsPerPosition * s.Item.Map.PositionsPerUnit;
                for (long u = 0; u < group.Size; u++)
                    foreach (var p in s.Positions(u)) raw[u] += perPosition[p];
            }
            if (!any) continue;
            WeightSlices.Normalize(raw, Normalization, elementsPerUnit, rootOfCount: false);
            result.Set(group, raw);
        }
        return result;
    }

    /// <summary>Every floating-point constant slice of the group (weights, biases, BN γ/β; those without a gradient, such as
    /// BN running statistics, drop out later).</summary>
    internal static IReadOnlyList<WeightSlices.Slice> Coupled(Analysis.PruningGroup group, WeightSlices slices) =>
        group.ConstantSlices.Select(slices.Get).OfType<WeightSlices.Slice>().ToArray();

    /// <summary>Per-unit sums of a per-element statistic over each non-blocked group's scored slices (e.g. the squared
    /// gradients of <see cref="GradientSums.SquaredGradient"/> pooled per unit for a Fisher embedding).</summary>
    internal static double[]? PoolPerUnit(Analysis.PruningGroup group, IReadOnlyDictionary<string, float[]> perElement, WeightSlices slices)
    {
        double[]? raw = null;
        foreach (var s in Coupled(group, slices))
        {
            if (!perElement.TryGetValue(s.Constant.Name, out var acc)) continue;
            raw ??= new double[group.Size];
            var perPosition = s.WithData(acc).PerPosition(squares: false) /* acc ≥ 0: Σ|x| = Σx */;
            for (long u = 0; u < group.Size; u++)
                foreach (var p in s.Positions(u)) raw[u] += perPosition[p];
        }
        return raw;
    }
}
