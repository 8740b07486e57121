using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Analysis.Rules;

/// <summary>Expand (broadcast to a shape) and ConstantOfShape (a filled tensor of a given shape): Expand couples
/// equal-size axes and lets size-1 axes broadcast; ConstantOfShape only reads a shape.</summary>
public sealed class ExpandRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } = ["Expand", "ConstantOfShape"];

    private static Dim[]? ShapeOf(TensorInfo shape) =>
        shape.Elements?.Select(e => e.AsDim).ToArray();

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx)
    {
        if (ctx.Node.OpType == "ConstantOfShape")
        {
            var type = ctx.Node.Attributes.GetTensor("value")?.ElementType ?? ElementType.Float;
            ctx.SetOutput(0, type, ShapeOf(ctx.Input(0)));
            return;
        }
        var x = ctx.Input(0);
        var target = ShapeOf(ctx.Input(1));
        ctx.SetOutput(0, x.ElementType, target is null ? null : RuleHelpers.Broadcast([x.Shape, target]));
    }

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        if (ctx.Node.OpType == "ConstantOfShape") { ctx.AcknowledgeAll(ctx.In(0)!); return; }
        var (x, shape, y) = (ctx.In(0)!, ctx.In(1)!, ctx.Out(0)!);
        ctx.AcknowledgeAll(shape);
        RuleHelpers.CoupleBroadcast(ctx, x, y);
        // A target element that spells out a coupled size must shrink with it; 1 and run-time sizes follow by themselves.
        var elements = ctx.Info(shape).Elements;
        int ro = ctx.Rank(y);
        if (elements is null || ro < 0) { ctx.OpaqueValue(y, $"{ctx.Where}: target shape unknown"); return; }
        for (int j = 0; j < elements.Count; j++)
        {
            int o = j + (ro - elements.Count);
            var e = elements[j];
            if (e.Value == 1 || e.FollowsDims) continue;
            if (e.Constant is { } c) ctx.ShapeElement(y, o, c, e.ConstantIndex);
            else ctx.Opaque(y, o, $"{ctx.Where}: target size of axis {o} is computed at run time in a way that cannot be mapped");
        }
    }
}
