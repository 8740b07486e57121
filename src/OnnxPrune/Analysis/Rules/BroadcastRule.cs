using OnnxPrune.Tensors;

namespace OnnxPrune.Analysis.Rules;

/// <summary>Elementwise ops with numpy broadcasting (Add, Sub, Mul, Div, PRelu, …): equal-size axes couple across all
/// operands and the output, so channel-wise constant operands are sliced and residual Adds join their inputs' groups.
/// Also tracks small integer arithmetic (shape computations).</summary>
public sealed class BroadcastRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } =
        ["Add", "Sub", "Mul", "Div", "Pow", "PRelu", "Max", "Min", "Sum", "Mean", "Equal", "Less", "Greater", "And", "Or", "Where"];

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx)
    {
        var op = ctx.Node.OpType;
        ElementType? type = op is "Equal" or "Less" or "Greater" or "And" or "Or" ? ElementType.Bool : null;
        RuleHelpers.InferBroadcast(ctx, op == "Where" ? 1 : 0, type);
        if (op is not ("Add" or "Sub" or "Mul" or "Div")) return;
        var (a, b) = (ctx.Input(0), ctx.Input(1));
        if (a.Elements is null || b.Elements is null || a.ElementType is not (ElementType.Int64 or ElementType.Int32)) return;
        int n = Math.Max(a.Elements.Count, b.Elements.Count);
        if ((a.Elements.Count != n && a.Elements.Count != 1) || (b.Elements.Count != n && b.Elements.Count != 1)) return;
        var result = new TrackedElement[n];
        for (int i = 0; i < n; i++)
        {
            var x = a.Elements[a.Elements.Count == 1 ? 0 : i];
            var y = b.Elements[b.Elements.Count == 1 ? 0 : i];
            long? v = x.Value is long p && y.Value is long q
                ? op switch { "Add" => p + q, "Sub" => p - q, "Mul" => p * q, _ => q == 0 ? null : p / q }
                : null;
            result[i] = TrackedElement.Computed(v, x.FollowsDims && y.FollowsDims);
        }
        var shape = a.Elements.Count >= b.Elements.Count ? a.Shape : b.Shape;
        ctx.SetOutput(0, a.ElementType, shape, result);
    }

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        var y = ctx.Out(0)!;
        foreach (var x in ctx.Node.Inputs)
            if (x is not null) RuleHelpers.CoupleBroadcast(ctx, x, y);
        if (ctx.Node.OpType is "Add" or "Sub" or "Sum" or "Mean" && ctx.Node.Inputs.Count(x => x is not null && x.Constant is null) >= 2)
            for (int i = 0; i < ctx.Rank(y); i++) ctx.Join(y, i);
    }
}
