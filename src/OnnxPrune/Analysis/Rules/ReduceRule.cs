using OnnxPrune.Graph;

namespace OnnxPrune.Analysis.Rules;

/// <summary>Reductions (ReduceMean, ReduceSum, …): reduced axes mix their units and block; the others couple.</summary>
public sealed class ReduceRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } =
        ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp"];

    private static HashSet<int>? Axes(Node node, int rank, long[]? axes)
    {
        if (rank < 0) return null;
        if (axes is null || axes.Length == 0)
        {
            if (node.Input(1) is not null && axes is null) return null;
            return node.Attributes.GetInt("noop_with_empty_axes", 0) != 0 ? new HashSet<int>() : Enumerable.Range(0, rank).ToHashSet();
        }
        return axes.Select(a => RuleHelpers.Axis(a, rank)).ToHashSet();
    }

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx)
    {
        var x = ctx.Input(0);
        var axes = Axes(ctx.Node, x.Rank, RuleHelpers.IntsFromAttributeOrInput(ctx, "axes", 1));
        if (x.Shape is null || axes is null) { ctx.SetOutput(0, x.ElementType, null); return; }
        bool keep = ctx.Node.Attributes.GetInt("keepdims", 1) != 0;
        var shape = new List<Dim>();
        for (int i = 0; i < x.Rank; i++)
        {
            if (!axes.Contains(i)) shape.Add(x.Shape[i]);
            else if (keep) shape.Add(new Dim(1));
        }
        ctx.SetOutput(0, x.ElementType, shape);
    }

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        var (x, y) = (ctx.In(0)!, ctx.Out(0)!);
        RuleHelpers.AcknowledgeInputs(ctx, 1);
        int r = ctx.Rank(x);
        var axes = Axes(ctx.Node, r, RuleHelpers.IntsFromAttributeOrInput(ctx, "axes", 1));
        if (axes is null) { ctx.OpaqueValue(x, $"{ctx.Where}: axes unknown"); ctx.OpaqueValue(y, $"{ctx.Where}: axes unknown"); return; }
        bool keep = ctx.Node.Attributes.GetInt("keepdims", 1) != 0;
        int o = 0;
        for (int i = 0; i < r; i++)
        {
            if (!axes.Contains(i)) { ctx.Same(x, i, y, o++); continue; }
            ctx.Opaque(x, i, $"{ctx.Where} reduces over axis {i}");
            if (keep) ctx.Acknowledge(y, o++);
        }
    }
}
