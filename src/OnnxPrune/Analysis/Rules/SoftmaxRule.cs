namespace OnnxPrune.Analysis.Rules;

/// <summary>Softmax / LogSoftmax / Hardmax: the normalized axis (before opset 13: every axis from `axis` on) mixes its
/// units, so no group may cross it; other axes couple (attention heads pass through the softmax over keys).</summary>
public sealed class SoftmaxRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } = ["Softmax", "LogSoftmax", "Hardmax"];

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx) => ctx.OutputLikeInput();

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        var (x, y) = (ctx.In(0)!, ctx.Out(0)!);
        int r = ctx.Rank(x);
        if (r < 0) { ctx.OpaqueValue(x, $"{ctx.Where}: rank unknown"); ctx.OpaqueValue(y, $"{ctx.Where}: rank unknown"); return; }
        bool legacy = ctx.Opset < 13;
        int axis = RuleHelpers.Axis(ctx.Node.Attributes.GetInt("axis", legacy ? 1 : -1), r);
        for (int i = 0; i < r; i++)
        {
            bool mixed = legacy ? i >= axis : i == axis;
            if (!mixed) { ctx.Same(x, i, y, i); continue; }
            var reason = $"{ctx.Where} normalizes over axis {i}";
            ctx.Opaque(x, i, reason);
            ctx.Opaque(y, i, reason);
        }
    }
}
