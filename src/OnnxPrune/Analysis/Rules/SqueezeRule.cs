using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Analysis.Rules;

/// <summary>Squeeze / Unsqueeze: the remaining axes couple in order; tracked shape elements pass through.</summary>
public sealed class SqueezeRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } = ["Squeeze", "Unsqueeze"];

    // For each output axis, the input axis it comes from (-1 for an inserted axis); null when unknown.
    private static int[]? Mapping(Node node, TensorInfo x, long[]? axes)
    {
        if (x.Shape is null) return null;
        int r = x.Rank;
        if (node.OpType == "Squeeze")
        {
            HashSet<int> removed;
            if (axes is null && node.Input(1) is not null) return null; // axes given at run time
            if (axes is null)
            {
                if (x.Shape.Any(d => !d.IsKnown)) return null;
                removed = Enumerable.Range(0, r).Where(i => x.Shape[i].Value == 1).ToHashSet();
            }
            else removed = axes.Select(a => RuleHelpers.Axis(a, r)).ToHashSet();
            return Enumerable.Range(0, r).Where(i => !removed.Contains(i)).ToArray();
        }
        if (axes is null) return null;
        int ro = r + axes.Length;
        var inserted = axes.Select(a => RuleHelpers.Axis(a, ro)).ToHashSet();
        var map = new int[ro];
        int k = 0;
        for (int i = 0; i < ro; i++) map[i] = inserted.Contains(i) ? -1 : k++;
        return map;
    }

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx)
    {
        var x = ctx.Input(0);
        var map = Mapping(ctx.Node, x, RuleHelpers.IntsFromAttributeOrInput(ctx, "axes", 1));
        if (map is null) { ctx.SetOutput(0, x.ElementType, null); return; }
        var shape = map.Select(i => i < 0 ? new Dim(1) : x.Shape![i]).ToArray();
        ctx.SetOutput(0, x.ElementType, shape, x.Elements is { Count: 1 } || (x.Elements is not null && x.Rank == 1 && shape.Length == 1) ? x.Elements : null);
    }

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        var (x, y) = (ctx.In(0)!, ctx.Out(0)!);
        RuleHelpers.AcknowledgeInputs(ctx, 1);
        var map = Mapping(ctx.Node, ctx.Info(x), RuleHelpers.IntsFromAttributeOrInput(ctx, "axes", 1));
        if (map is null) { ctx.OpaqueValue(x, $"{ctx.Where}: axes unknown"); ctx.OpaqueValue(y, $"{ctx.Where}: axes unknown"); return; }
        for (int i = 0; i < map.Length; i++)
        {
            if (map[i] >= 0) ctx.Same(x, map[i], y, i);
            else ctx.Acknowledge(y, i);
        }
        for (int i = 0; i < ctx.Rank(x); i++) if (!map.Contains(i)) ctx.Acknowledge(x, i);
    }
}
