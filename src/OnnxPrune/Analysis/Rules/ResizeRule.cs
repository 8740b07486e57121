using OnnxPrune.Graph;

namespace OnnxPrune.Analysis.Rules;

/// <summary>Resize / Upsample: axes with scale 1 (or whose target size is the input's own run-time size) couple;
/// resized axes change size.</summary>
public sealed class ResizeRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } = ["Resize", "Upsample"];

    private static float[]? Scales(Node node, Func<int, TensorInfo> input, Func<int, Value?> value)
    {
        if (node.Attributes.GetFloats("scales") is { } attr) return attr;
        int index = node.OpType == "Upsample" ? 1 : 2;
        if (value(index)?.Constant is { } c && c.ElementCount > 0) return c.Data.ToFloatArray();
        return null;
    }

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx)
    {
        var x = ctx.Input(0);
        if (x.Shape is null) { ctx.SetOutput(0, x.ElementType, null); return; }
        var sizes = ctx.Node.OpType == "Resize" && ctx.Node.Input(3) is not null ? ctx.Input(3).Elements : null;
        var scales = Scales(ctx.Node, ctx.Input, ctx.Node.Input);
        var shape = new Dim[x.Rank];
        for (int i = 0; i < x.Rank; i++)
        {
            if (sizes is not null && sizes.Count == x.Rank)
                shape[i] = sizes[i].Value is long s ? new Dim(s) : sizes[i].DimValue == ctx.Node.Input(0) && sizes[i].DimAxis == i ? x.Shape[i] : Dim.Unknown;
            else if (scales is not null && scales.Length == x.Rank)
                shape[i] = scales[i] == 1f ? x.Shape[i] : x.Shape[i].Value is long n ? new Dim((long)Math.Floor(n * (double)scales[i])) : Dim.Unknown;
            else shape[i] = Dim.Unknown;
        }
        ctx.SetOutput(0, x.ElementType, shape);
    }

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        var (x, y) = (ctx.In(0)!, ctx.Out(0)!);
        RuleHelpers.AcknowledgeInputs(ctx, 1);
        var sizes = ctx.Node.OpType == "Resize" && ctx.In(3) is { } s ? ctx.Info(s).Elements : null;
        var scales = Scales(ctx.Node, i => ctx.In(i) is { } v ? ctx.Info(v) : TensorInfo.Unknown, ctx.In);
        int r = ctx.Rank(x);
        for (int i = 0; i < r; i++)
        {
            if (sizes is not null && sizes.Count == r)
            {
                var e = sizes[i];
                if (e.DimValue == x && e.DimAxis == i) ctx.Same(x, i, y, i);
                else if (e.Constant is { } c && e.Value is long v && v == ctx.Size(x, i))
                {
                    // A constant target size equal to the input's: it must shrink with the axis.
                    ctx.Same(x, i, y, i);
                    ctx.ShapeElement(y, i, c, e.ConstantIndex);
                }
            }
            else if (scales is not null && scales.Length == r && scales[i] == 1f) ctx.Same(x, i, y, i);
        }
    }
}
