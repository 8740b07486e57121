using OnnxPrune.Analysis;

namespace OnnxPrune.Pruning.Importance;

/// <summary>
/// BN scale (network slimming): a unit's score is <c>Σ |γ_p|</c> over the BatchNormalization scale slices coupled
/// to it (several when BNs share a residual stream), then normalised (default: divide by the group mean).
/// </summary>
/// <remarks>
/// A BN scale slice is a <see cref="ConstantSliceItem"/> item whose constant is input 1 of a
/// BatchNormalization node that reads it (the item's node, or any consumer). Groups without one (BN folded into
/// the conv, the classifier's features) are scored by <see cref="Fallback"/> when one is given, and otherwise
/// left out (the planner then keeps them whole). Because both sides are mean-normalised, a fallback's scores sit
/// on the same scale (mean 1 per group) as the BN scores.
/// </remarks>
public sealed class BatchNormScaleCriterion : IImportanceCriterion
{
    /// <summary>Creates the criterion.</summary>
    /// <param name="fallback">Scores groups that have no BN scale slice; null leaves them out.</param>
    /// <param name="normalization">How scores are made comparable across groups.</param>
    public BatchNormScaleCriterion(IImportanceCriterion? fallback = null, ScoreNormalization normalization = ScoreNormalization.Mean)
    {
        Fallback = fallback;
        Normalization = normalization;
    }

    /// <summary>The criterion for groups without BN, or null.</summary>
    public IImportanceCriterion? Fallback { get; }

    /// <summary>How scores are made comparable across groups.</summary>
    public ScoreNormalization Normalization { get; }

    /// <inheritdoc/>
    public string Name => Fallback is null ? "bn" : $"bn+{Fallback.Name}";

    /// <inheritdoc/>
    public async ValueTask<GroupScores> ScoreAsync(ImportanceContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var result = new GroupScores(Name);
        var slices = new WeightSlices();
        var withoutBn = new List<PruningGroup>();
        foreach (var group in context.Groups)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (group.IsBlocked) continue;
            var gammas = group.ConstantSlices.Where(IsBatchNormScale).Select(slices.Get).OfType<WeightSlices.Slice>().ToArray();
            if (gammas.Length == 0) { withoutBn.Add(group); continue; }
            var raw = new double[group.Size];
            foreach (var s in gammas)
            {
                var perPosition = s.PerPosition(squares: false);
                for (long u = 0; u < group.Size; u++)
                    foreach (var p in s.Positions(u)) raw[u] += perPosition[p];
            }
            WeightSlices.Normalize(raw, Normalization, gammas.Sum(g => g.Item.Map.PositionsPerUnit), rootOfCount: false);
            result.Set(group, raw);
        }
        if (Fallback is not null && withoutBn.Count > 0)
        {
            var fallback = await Fallback.ScoreAsync(context with { Groups = withoutBn }, cancellationToken).ConfigureAwait(false);
            foreach (var group in withoutBn)
                if (fallback.TryGet(group.Id, out var s)) result.Set(group, s);
        }
        return result;
    }

    /// <summary>True when the item slices the scale (input 1) of a BatchNormalization node.</summary>
    public static bool IsBatchNormScale(GroupItem item)
    {
        if (item is not ConstantSliceItem slice) return false;
        if (slice.Reader is { OpType: "BatchNormalization" } n && n.Input(1) == slice.Value) return true;
        return slice.Value.Consumers.Any(c => c.OpType == "BatchNormalization" && c.Input(1) == slice.Value);
    }
}
