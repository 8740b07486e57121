namespace OnnxPrune.Pruning.Importance;

/// <summary>
/// Group L1 or L2 magnitude: a unit's score aggregates every scored constant slice coupled to it (its filter, its
/// bias, the next layer's input-channel slices, BN γ/β …), gathered through each item's <c>IndexMap</c>.
/// </summary>
/// <remarks>
/// Raw score of unit u over the scored slices S and their positions P_s(u):
/// L1: <c>Σ_s Σ_{p∈P_s(u)} Σ |w_s[…, p, …]|</c>; L2: <c>√(Σ_s Σ_{p∈P_s(u)} Σ w_s[…, p, …]²)</c> (the L2 norm of the
/// unit's whole group slice). Then <see cref="ScoreNormalization"/> (default: divide by the group mean).
/// Any floating-point element type (float, double, float16, bfloat16) is read as float. NaN weights give NaN
/// scores, which <see cref="GroupScores.Set"/> rejects. Groups without a scored floating-point slice are left out.
/// </remarks>
public sealed class MagnitudeCriterion : IImportanceCriterion
{
    /// <summary>Creates an L1 (<paramref name="norm"/> = 1) or L2 (<paramref name="norm"/> = 2) criterion.</summary>
    public MagnitudeCriterion(int norm, ScoreNormalization normalization = ScoreNormalization.Mean)
    {
        if (norm is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(norm), norm, "Norm must be 1 or 2.");
        Norm = norm;
        Normalization = normalization;
    }

    /// <summary>1 or 2.</summary>
    public int Norm { get; }

    /// <summary>How scores are made comparable across groups.</summary>
    public ScoreNormalization Normalization { get; }

    /// <inheritdoc/>
    public string Name => Norm == 1 ? "l1" : "l2";

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
            if (group.IsBlocked) continue;
            var scored = slices.Scored(group);
            if (scored.Count == 0) continue;
            var raw = new double[group.Size];
            long elementsPerUnit = 0;
            foreach (var s in scored)
            {
                var perPosition = s.PerPosition(squares: Norm == 2);
                elementsPerUnit += s.ElementsPerPosition * s.Item.Map.PositionsPerUnit;
                for (long u = 0; u < group.Size; u++)
                    foreach (var p in s.Positions(u)) raw[u] += perPosition[p];
            }
            if (Norm == 2) for (int u = 0; u < raw.Length; u++) raw[u] = Math.Sqrt(raw[u]); // per unit: a plain, precompiled loop
            WeightSlices.Normalize(raw, Normalization, elementsPerUnit, rootOfCount: Norm == 2);
            result.Set(group, raw);
        }
        context.Progress?.Report(new ImportanceProgress(context.Groups.Count, context.Groups.Count, Name));
        return ValueTask.FromResult(result);
    }
}
