using OnnxPrune.Graph;

namespace OnnxPrune.Training.Gradients;

/// <summary>
/// Add, Sub, Mul, Div with numpy broadcasting; each operand's gradient is summed over the axes it was broadcast along.
/// d(a+b) = (dY, dY); d(a−b) = (dY, −dY); d(a·b) = (dY·b, dY·a); d(a/b) = (dY/b, −dY·Y/b).
/// </summary>
public sealed class BroadcastArithmeticGradient : GradientRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes => ["Add", "Sub", "Mul", "Div"];

    /// <inheritdoc/>
    protected override IReadOnlyList<int> DifferentiableInputs => [0, 1];

    /// <inheritdoc/>
    protected override void Backward(GradientContext c, Node node, IReadOnlyList<Value?> dOut, Value?[] dIn)
    {
        var dy = dOut[0];
        if (dy is null) return;
        var a = node.Input(0)!;
        var b = node.Input(1)!;
        var y = node.Output(0)!;
        var yShape = c.ShapeOf(y);
        Value? ga = null, gb = null;
        bool needA = c.NeedsGradient(a), needB = c.NeedsGradient(b);
        switch (node.OpType)
        {
            case "Add":
                ga = dy; gb = dy; break;
            case "Sub":
                ga = dy; if (needB) gb = c.Neg(dy); break;
            case "Mul":
                if (needA) ga = a == b ? c.Mul(c.Mul(dy, b), 2f) : c.Mul(dy, b);
                if (needB) gb = a == b ? null : c.Mul(dy, a);
                if (a == b) needB = false;
                break;
            case "Div":
                if (needA) ga = c.Div(dy, b);
                if (needB) gb = c.Neg(c.Div(c.Mul(dy, y), b));
                break;
        }
        if (needA && ga is not null) dIn[0] = c.SumToShape(ga, yShape, c.ShapeOf(a));
        if (needB && gb is not null) dIn[1] = c.SumToShape(gb, yShape, c.ShapeOf(b));
    }
}
