namespace OnnxPrune.Analysis.Rules;

/// <summary>LayerNormalization: the normalized axes (from `axis` to the end) mix their units, so no group may cross
/// them; the leading axes couple.</summary>
public sealed class LayerNormRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } = ["LayerNormalization"];

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx) => ctx.OutputLikeInput();

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        var (x, y) = (ctx.In(0)!, ctx.Out(0)!);
        int r = ctx.Rank(x);
        if (r < 1) { ctx.OpaqueValue(x, $"{ctx.Where}: rank unknown"); ctx.OpaqueValue(y, $"{ctx.Where}: rank unknown"); return; }
        int axis = RuleHelpers.Axis(ctx.Node.Attributes.GetInt("axis", -1), r);
        for (int i = 0; i < r; i++)
        {
            if (i < axis) { ctx.Same(x, i, y, i); continue; }
            var reason = $"{ctx.Where} normalizes over axis {i}";
            ctx.Opaque(x, i, reason);
            ctx.Opaque(y, i, reason);
        }
        for (int k = 1; k < ctx.Node.Inputs.Count; k++)
            if (ctx.In(k) is { } p) ctx.OpaqueValue(p, $"{ctx.Where}: normalization parameter");
    }
}
