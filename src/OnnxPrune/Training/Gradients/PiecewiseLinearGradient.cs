using OnnxPrune.Graph;

namespace OnnxPrune.Training.Gradients;

/// <summary>
/// Piecewise-linear activations: Relu (dY·[x&gt;0]), LeakyRelu (dY·(x&gt;0 ? 1 : α)), Clip (dY·[min&lt;x&lt;max]),
/// HardSigmoid (dY·α·[0&lt;αx+β&lt;1]) and HardSwish (dY·(x&lt;−3 ? 0 : x&gt;3 ? 1 : (2x+3)/6)). Masks are Cast(compare)·dY,
/// which ONNX Runtime runs faster than Where.
/// </summary>
public sealed class PiecewiseLinearGradient : GradientRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes => ["Relu", "LeakyRelu", "Clip", "HardSigmoid", "HardSwish"];

    /// <inheritdoc/>
    protected override void Backward(GradientContext c, Node node, IReadOnlyList<Value?> dOut, Value?[] dIn)
    {
        var dy = dOut[0];
        if (dy is null) return;
        var x = node.Input(0)!;
        var a = node.Attributes;
        switch (node.OpType)
        {
            case "Relu":
                dIn[0] = c.Mul(dy, c.ToFloat(c.Op("Greater", [x, c.Scalar(0f)])));
                break;
            case "LeakyRelu":
            {
                float alpha = a.GetFloat("alpha", 0.01f);
                // slope = α + (1 − α)·[x > 0]
                var slope = c.Add(c.Mul(c.ToFloat(c.Op("Greater", [x, c.Scalar(0f)])), 1f - alpha), c.Scalar(alpha));
                dIn[0] = c.Mul(dy, slope);
                break;
            }
            case "Clip":
            {
                Value? mask = null;
                if (node.Input(1) is { Name.Length: > 0 } min) mask = c.Op("Greater", [x, min]);
                if (node.Input(2) is { Name.Length: > 0 } max)
                {
                    var upper = c.Op("Less", [x, max]);
                    mask = mask is null ? upper : c.Op("And", [mask, upper]);
                }
                dIn[0] = mask is null ? dy : c.Mul(dy, c.ToFloat(mask));
                break;
            }
            case "HardSigmoid":
            {
                float alpha = a.GetFloat("alpha", 0.2f), beta = a.GetFloat("beta", 0.5f);
                var z = c.Add(c.Mul(x, alpha), c.Scalar(beta));
                var mask = c.Op("And", [c.Op("Greater", [z, c.Scalar(0f)]), c.Op("Less", [z, c.Scalar(1f)])]);
                dIn[0] = c.Mul(c.Mul(dy, c.ToFloat(mask)), alpha);
                break;
            }
            case "HardSwish":
            {
                // slope = x/3 + 1/2 inside (−3, 3), 1 above, 0 below.
                var inside = c.ToFloat(c.Op("And", [c.Op("Greater", [x, c.Scalar(-3f)]), c.Op("Less", [x, c.Scalar(3f)])]));
                var above = c.ToFloat(c.Op("GreaterOrEqual", [x, c.Scalar(3f)]));
                dIn[0] = c.Mul(dy, c.Add(c.Mul(c.Add(c.Mul(x, 1f / 3f), c.Scalar(0.5f)), inside), above));
                break;
            }
        }
    }
}
