using OnnxPrune.Graph;
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
            result[i] = Arithmetic(ctx.Node, op, a.Elements[a.Elements.Count == 1 ? 0 : i], b.Elements[b.Elements.Count == 1 ? 0 : i]);
        var shape = a.Elements.Count >= b.Elements.Count ? a.Shape : b.Shape;
        ctx.SetOutput(0, a.ElementType, shape, result);
    }

    // One element of integer shape arithmetic: its value, its symbolic form (DimExpression: sums, products, floor division
    // by a positive constant) and, for a run-time dim times or divided by a constant, that relation (ScaledDim).
    private static TrackedElement Arithmetic(Graph.Node node, string op, TrackedElement x, TrackedElement y)
    {
        long? v = x.Value is long p && y.Value is long q
            ? op switch { "Add" => p + q, "Sub" => p - q, "Mul" => p * q, _ => q == 0 ? null : p / q }
            : null;
        Dim symbol = v is not null ? default : op switch
        {
            "Add" => DimExpression.Add(x.AsDim, y.AsDim),
            "Sub" => y.Value is long c ? DimExpression.Add(x.AsDim, -c) : Dim.Unknown,
            "Mul" => DimExpression.Mul(x.AsDim, y.AsDim),
            _ => y.Value is long d && d > 0 ? DimExpression.FloorDiv(x.AsDim, d) : Dim.Unknown,
        };
        if (symbol.Param is null) symbol = default;
        ScaledDim? scaled = null;
        bool IsConstant(TrackedElement e) => e.Value is > 0 && !e.FollowsDims && e.Scaled is null;
        bool IsDim(TrackedElement e) => e.DimValue is not null;
        if (op == "Div" && IsDim(x) && IsConstant(y))
            scaled = new ScaledDim(x.DimValue!, x.DimAxis, true, y.Value!.Value, y.Constant, y.ConstantIndex, node);
        else if (op == "Mul" && IsDim(x) && IsConstant(y))
            scaled = new ScaledDim(x.DimValue!, x.DimAxis, false, y.Value!.Value, y.Constant, y.ConstantIndex, node);
        else if (op == "Mul" && IsDim(y) && IsConstant(x))
            scaled = new ScaledDim(y.DimValue!, y.DimAxis, false, x.Value!.Value, x.Constant, x.ConstantIndex, node);
        var reads = scaled is null ? x.ReadDims.Concat(y.ReadDims).Distinct().ToArray() : null;
        return new TrackedElement(v, DimsOnly: x.FollowsDims && y.FollowsDims, Scaled: scaled, Symbol: symbol, Reads: reads is { Length: > 0 } ? reads : null);
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
