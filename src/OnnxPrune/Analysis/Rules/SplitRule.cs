using OnnxPrune.Graph;

namespace OnnxPrune.Analysis.Rules;

/// <summary>Split: output k's units sit at an offset in the input's split axis; the split sizes (input or attribute)
/// are rewritten when units go. Splits without explicit sizes block the split axis.</summary>
public sealed class SplitRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } = ["Split"];

    private static long[]? Sizes(Node node, long? axisSize, int outputs, Func<int, TensorInfo> input)
    {
        if (node.Attributes.GetInts("split") is { } attr) return attr;
        if (node.Input(1) is not null) return input(1).KnownValues;
        if (axisSize is long n && n % outputs == 0) return Enumerable.Repeat(n / outputs, outputs).ToArray();
        return null;
    }

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx)
    {
        var x = ctx.Input(0);
        if (x.Shape is null) return;
        int axis = RuleHelpers.Axis(ctx.Node.Attributes.GetInt("axis", 0), x.Rank);
        var sizes = Sizes(ctx.Node, x.Shape[axis].Value, ctx.Node.Outputs.Count, ctx.Input);
        for (int k = 0; k < ctx.Node.Outputs.Count; k++)
        {
            var shape = x.Shape.ToArray();
            shape[axis] = sizes is not null && k < sizes.Length ? new Dim(sizes[k]) : Dim.Unknown;
            ctx.SetOutput(k, x.ElementType, shape);
        }
    }

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        var x = ctx.In(0)!;
        int r = ctx.Rank(x);
        RuleHelpers.AcknowledgeInputs(ctx, 1);
        if (r < 1) { ctx.OpaqueValue(x, $"{ctx.Where}: rank unknown"); return; }
        int axis = RuleHelpers.Axis(ctx.Node.Attributes.GetInt("axis", 0), r);
        var attr = ctx.Node.Attributes.GetInts("split");
        var sizeInput = ctx.In(1);
        var sizeElements = sizeInput is not null ? ctx.Info(sizeInput).Elements : null;
        bool rewritable = attr is not null || (sizeElements is not null && sizeElements.All(e => e.Constant is not null));
        long offset = 0;
        for (int k = 0; k < ctx.Node.Outputs.Count; k++)
        {
            if (ctx.Out(k) is not { } y) continue;
            for (int d = 0; d < r; d++) if (d != axis) ctx.Same(x, d, y, d);
            if (!rewritable || ctx.Size(y, axis) is not long n)
            {
                var reason = $"{ctx.Where}: split sizes are implicit or computed at run time";
                ctx.Opaque(x, axis, reason);
                ctx.Opaque(y, axis, reason);
                continue;
            }
            ctx.Offset(y, axis, x, axis, offset);
            offset += n;
            if (attr is not null) ctx.Attribute(y, axis, "split", k);
            else ctx.ShapeElement(y, axis, sizeElements![k].Constant!, sizeElements[k].ConstantIndex);
        }
    }
}
