using OnnxPrune.Graph;

namespace OnnxPrune.Training.Gradients;

/// <summary>
/// Smooth activations and unary math, each from its input x or output y: Sigmoid y(1−y), Tanh 1−y², Erf 2/√π·e^(−x²),
/// Gelu (exact and tanh forms), Softplus σ(x), Exp y, Log 1/x, Sqrt 1/(2y), Reciprocal −y², Neg −1, Abs sign(x).
/// </summary>
public sealed class SmoothActivationGradient : GradientRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes => ["Sigmoid", "Tanh", "Erf", "Gelu", "Softplus", "Exp", "Log", "Sqrt", "Reciprocal", "Neg", "Abs"];

    /// <inheritdoc/>
    protected override void Backward(GradientContext c, Node node, IReadOnlyList<Value?> dOut, Value?[] dIn)
    {
        var dy = dOut[0];
        if (dy is null) return;
        var x = node.Input(0)!;
        var y = node.Output(0)!;
        dIn[0] = node.OpType switch
        {
            "Sigmoid" => c.Mul(dy, c.Mul(y, c.Sub(c.Scalar(1f), y))),
            "Tanh" => c.Mul(dy, c.Sub(c.Scalar(1f), c.Mul(y, y))),
            "Erf" => c.Mul(dy, c.Mul(c.Op("Exp", [c.Neg(c.Mul(x, x))]), 2f / MathF.Sqrt(MathF.PI))),
            "Gelu" => c.Mul(dy, GeluSlope(c, node, x)),
            "Softplus" => c.Mul(dy, c.Op("Sigmoid", [x])),
            "Exp" => c.Mul(dy, y),
            "Log" => c.Div(dy, x),
            "Sqrt" => c.Div(c.Mul(dy, 0.5f), y),
            "Reciprocal" => c.Neg(c.Mul(dy, c.Mul(y, y))),
            "Neg" => c.Neg(dy),
            "Abs" => c.Mul(dy, c.Op("Sign", [x])),
            _ => throw c.Unsupported(node, "no rule"),
        };
    }

    private static Value GeluSlope(GradientContext c, Node node, Value x)
    {
        if (node.Attributes.GetString("approximate", "none") == "tanh")
        {
            // y = ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³): y' = ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²)
            float k = MathF.Sqrt(2f / MathF.PI);
            var x2 = c.Mul(x, x);
            var u = c.Mul(c.Add(x, c.Mul(c.Mul(x2, x), 0.044715f)), k);
            var t = c.Op("Tanh", [u]);
            var du = c.Mul(c.Add(c.Scalar(1f), c.Mul(x2, 3f * 0.044715f)), k);
            var left = c.Mul(c.Add(c.Scalar(1f), t), 0.5f);
            var right = c.Mul(c.Mul(c.Mul(x, c.Sub(c.Scalar(1f), c.Mul(t, t))), du), 0.5f);
            return c.Add(left, right);
        }
        // y = x·Φ(x): y' = Φ(x) + x·φ(x)
        var cdf = c.Mul(c.Add(c.Scalar(1f), c.Op("Erf", [c.Mul(x, 1f / MathF.Sqrt(2f))])), 0.5f);
        var pdf = c.Mul(c.Op("Exp", [c.Mul(c.Mul(x, x), -0.5f)]), 1f / MathF.Sqrt(2f * MathF.PI));
        return c.Add(cdf, c.Mul(x, pdf));
    }
}
