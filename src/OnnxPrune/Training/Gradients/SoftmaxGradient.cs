using OnnxPrune.Graph;

namespace OnnxPrune.Training.Gradients;

/// <summary>
/// Softmax: dX = Y·(dY − Σ dY·Y) along the axis. LogSoftmax: dX = dY − exp(Y)·Σ dY. Opset ≥ 13 semantics (one axis).
/// </summary>
public sealed class SoftmaxGradient : GradientRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes => ["Softmax", "LogSoftmax"];

    /// <inheritdoc/>
    protected override void Backward(GradientContext c, Node node, IReadOnlyList<Value?> dOut, Value?[] dIn)
    {
        var dy = dOut[0];
        if (dy is null) return;
        var y = node.Output(0)!;
        long axis = GradientContext.Axis(node.Attributes.GetInt("axis", -1), c.RankOf(y));
        if (node.OpType == "Softmax")
            dIn[0] = c.Mul(y, c.Sub(dy, c.ReduceSum(c.Mul(dy, y), [axis], keepDims: true)));
        else
            dIn[0] = c.Sub(dy, c.Mul(c.Op("Exp", [y]), c.ReduceSum(dy, [axis], keepDims: true)));
    }
}
