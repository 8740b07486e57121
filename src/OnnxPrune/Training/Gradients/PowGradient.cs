using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Training.Gradients;

/// <summary>
/// Pow y = x^b with numpy broadcasting, the exponent constant (LayerNorm decompositions write Pow(x − μ, 2)) or computed:
/// dx = dY·b·x^(b−1) (dY·2x when b is the constant 2); db = dY·y·ln x where x &gt; 0 and 0 elsewhere (x^b is not
/// differentiable in b at x ≤ 0). An integer exponent is cast to float32; each gradient is summed over the axes its
/// operand was broadcast along.
/// </summary>
public sealed class PowGradient : GradientRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes => ["Pow"];

    /// <inheritdoc/>
    protected override IReadOnlyList<int> DifferentiableInputs => [0, 1];

    /// <inheritdoc/>
    protected override void Backward(GradientContext c, Node node, IReadOnlyList<Value?> dOut, Value?[] dIn)
    {
        var dy = dOut[0];
        if (dy is null) return;
        var x = node.Input(0)!;
        var b = node.Input(1)!;
        var y = node.Output(0)!;
        var yShape = c.ShapeOf(y);
        if (c.NeedsGradient(x))
        {
            Value slope;
            var known = c.KnownValue(b);
            if (known is not null && known.ElementCount == 1 && known.ToFloatArray()[0] == 2f)
                slope = c.Mul(x, 2f);
            else if (known is not null)
            {
                var exponent = known.ToFloatArray();
                var minusOne = c.Builder.Initializer("grad_pow_exponent", Tensor.FromArray<float>(exponent.Select(e => e - 1f).ToArray(), known.Shape.ToArray()));
                slope = c.Mul(c.Op("Pow", [x, minusOne]), c.Builder.Initializer("grad_pow_b", Tensor.FromArray<float>(exponent, known.Shape.ToArray())));
            }
            else
            {
                var bf = c.TypeOf(b) == ElementType.Float ? b : c.ToFloat(b);
                slope = c.Mul(c.Op("Pow", [x, c.Sub(bf, c.Scalar(1f))]), bf);
            }
            dIn[0] = c.SumToShape(c.Mul(dy, slope), yShape, c.ShapeOf(x));
        }
        if (c.NeedsGradient(b))
        {
            if (c.TypeOf(b) != ElementType.Float) throw c.Unsupported(node, "an integer exponent cannot be trained");
            var positive = c.Op("Greater", [x, c.Scalar(0f)]);
            var logX = c.Op("Where", [positive, c.Op("Log", [x]), c.Scalar(0f)]);
            dIn[1] = c.SumToShape(c.Mul(dy, c.Mul(y, logX)), yShape, c.ShapeOf(b));
        }
    }
}
