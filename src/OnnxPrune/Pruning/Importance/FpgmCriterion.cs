using System.Numerics.Tensors;

namespace OnnxPrune.Pruning.Importance;

/// <summary>
/// FPGM (filter pruning via geometric median, He et al. 2019): units whose weights lie close to the others are
/// replaceable by them, so they are least important.
/// </summary>
/// <remarks>
/// Per group, each unit u becomes one vector x_u: the concatenation of all its scored constant slices (gathered
/// through each item's <c>IndexMap</c>). Raw score: <c>sᵤ = Σᵥ ‖xᵤ − xᵥ‖₂</c>, the objective that the geometric
/// median minimises, so the units nearest the median score lowest and duplicates of a central unit score lowest
/// of all. Cost O(n²·d) per group of n units with d coupled elements each. Then normalised (default: divide by the
/// group mean). Groups without a scored floating-point slice, or with a single unit, are left out.
/// </remarks>
public sealed class FpgmCriterion : IImportanceCriterion
{
    /// <summary>Creates the criterion.</summary>
    public FpgmCriterion(ScoreNormalization normalization = ScoreNormalization.Mean) => Normalization = normalization;

    /// <summary>How scores are made comparable across groups.</summary>
    public ScoreNormalization Normalization { get; }

    /// <inheritdoc/>
    public string Name => "fpgm";

    /// <inheritdoc/>
    public ValueTask<GroupScores> ScoreAsync(ImportanceContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var result = new GroupScores(Name);
        var slices = new WeightSlices();
        int done = 0;
        foreach (var group in context.Groups)
        {
            cancellationToken.ThrowIfCancellationRequested();
            context.Progress?.Report(new ImportanceProgress(done++, context.Groups.Count, Name));
            if (group.IsBlocked || group.Size < 2) continue;
            var scored = slices.Scored(group);
            if (scored.Count == 0) continue;
            int n = checked((int)group.Size);
            var vectors = new float[n][];
            for (int u = 0; u < n; u++)
            {
                var vector = new float[checked((int)scored.Sum(s => s.UnitLength(u)))];
                int written = 0;
                foreach (var s in scored) written += s.CopyUnit(u, vector.AsSpan(written));
                vectors[u] = vector;
            }
            var raw = new double[n];
            for (int u = 0; u < n; u++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                for (int v = u + 1; v < n; v++)
                {
                    double d = TensorPrimitives.Distance<float>(vectors[u], vectors[v]);
                    raw[u] += d;
                    raw[v] += d;
                }
            }
            WeightSlices.Normalize(raw, Normalization, vectors[0].Length, rootOfCount: true);
            result.Set(group, raw);
        }
        context.Progress?.Report(new ImportanceProgress(context.Groups.Count, context.Groups.Count, Name));
        return ValueTask.FromResult(result);
    }
}
