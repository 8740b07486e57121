namespace OnnxPrune.Analysis.Rules;

/// <summary>BatchNormalization and InstanceNormalization: per-channel parameters (scale, bias, mean, var) follow axis 1;
/// batch couples; BatchNormalization is elementwise, so its spatial axes couple too.</summary>
public sealed class ChannelNormRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } = ["BatchNormalization", "InstanceNormalization"];

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx) => ctx.OutputLikeInput();

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        var (x, y) = (ctx.In(0)!, ctx.Out(0)!);
        int r = ctx.Rank(x);
        if (r < 2) { ctx.OpaqueValue(x, $"{ctx.Where}: rank unknown"); ctx.OpaqueValue(y, $"{ctx.Where}: rank unknown"); return; }
        bool elementwise = ctx.Node.OpType == "BatchNormalization";
        for (int i = 0; i < r; i++)
            if (i < 2 || elementwise) ctx.Same(x, i, y, i);
        for (int i = 1; i < ctx.Node.Inputs.Count; i++)
            if (ctx.In(i) is { } p) ctx.Same(p, 0, x, 1);
    }
}
