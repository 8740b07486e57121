using OnnxPrune.Graph;

namespace OnnxPrune.Training.Gradients;

/// <summary>
/// Gemm: Y = α·op(A)·op(B) + β·C. d op(A) = α·dY·op(B)ᵀ, d op(B) = α·op(A)ᵀ·dY (transposed back when transA/transB),
/// dC = β·dY summed over C's broadcast axes.
/// </summary>
public sealed class GemmGradient : GradientRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes => ["Gemm"];

    /// <inheritdoc/>
    protected override IReadOnlyList<int> DifferentiableInputs => [0, 1, 2];

    /// <inheritdoc/>
    protected override void Backward(GradientContext c, Node node, IReadOnlyList<Value?> dOut, Value?[] dIn)
    {
        var dy = dOut[0];
        if (dy is null) return;
        var a = node.Input(0)!;
        var b = node.Input(1)!;
        long transA = node.Attributes.GetInt("transA", 0), transB = node.Attributes.GetInt("transB", 0);
        float alpha = node.Attributes.GetFloat("alpha", 1f), beta = node.Attributes.GetFloat("beta", 1f);
        if (c.NeedsGradient(a))
            dIn[0] = transA == 0
                ? c.Op("Gemm", [dy, b], ("transB", 1L - transB), ("alpha", alpha))
                : c.Op("Gemm", [b, dy], ("transA", transB), ("transB", 1L), ("alpha", alpha));
        if (c.NeedsGradient(b))
            dIn[1] = transB == 0
                ? c.Op("Gemm", [a, dy], ("transA", 1L - transA), ("alpha", alpha))
                : c.Op("Gemm", [dy, a], ("transA", 1L), ("transB", transA), ("alpha", alpha));
        if (node.Input(2) is { } bias && c.NeedsGradient(bias))
            dIn[2] = c.Mul(c.SumToShape(dy, c.ShapeOf(node.Output(0)!), c.ShapeOf(bias)), beta);
    }
}
