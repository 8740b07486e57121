using OnnxPrune.Graph;

namespace OnnxPrune.Training.Gradients;

/// <summary>
/// BatchNormalization with frozen statistics (inference form): with inv = 1/√(var+ε), dX = dY·γ·inv,
/// dγ = Σ dY·(x−μ)·inv, dβ = Σ dY (sums over batch and space). With <see cref="BatchNormMode.BatchStatistics"/> the
/// gradient builder first rewrites BatchNormalization into standard ops over batch statistics, so this rule is not used.
/// LayerNormalization: x̂ = (x−μ)·inv over the normalized axes; dx̂ = dY·γ;
/// dX = inv·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)); dγ = Σ dY·x̂, dβ = Σ dY over the leading axes.
/// </summary>
public sealed class NormalizationGradient : GradientRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes => ["BatchNormalization", "LayerNormalization"];

    /// <inheritdoc/>
    protected override IReadOnlyList<int> DifferentiableInputs => [0, 1, 2];

    /// <inheritdoc/>
    protected override void Backward(GradientContext c, Node node, IReadOnlyList<Value?> dOut, Value?[] dIn)
    {
        var dy = dOut[0];
        if (dy is null) return;
        if (node.OpType == "BatchNormalization") BatchNorm(c, node, dy, dIn);
        else LayerNorm(c, node, dy, dIn);
    }

    private static void BatchNorm(GradientContext c, Node node, Value dy, Value?[] dIn)
    {
        if (node.Attributes.GetInt("training_mode", 0) != 0) throw c.Unsupported(node, "training_mode=1 BatchNormalization in the forward model");
        var x = node.Input(0)!;
        var xShape = c.ShapeOf(x);
        long ch = xShape[1];
        var bcast = new long[xShape.Length];
        Array.Fill(bcast, 1L);
        bcast[1] = ch;
        var axes = Enumerable.Range(0, xShape.Length).Where(i => i != 1).Select(i => (long)i).ToArray();
        float eps = node.Attributes.GetFloat("epsilon", 1e-5f);
        var inv = c.Op("Reciprocal", [c.Op("Sqrt", [c.Add(node.Input(4)!, c.Scalar(eps))])]);
        var invB = c.Reshape(inv, bcast);
        if (c.NeedsGradient(x))
            dIn[0] = c.Mul(dy, c.Reshape(c.Mul(node.Input(1)!, inv), bcast));
        if (c.NeedsGradient(node.Input(1)))
        {
            var xhat = c.Mul(c.Sub(x, c.Reshape(node.Input(3)!, bcast)), invB);
            dIn[1] = c.ReduceSum(c.Mul(dy, xhat), axes, keepDims: false);
        }
        if (c.NeedsGradient(node.Input(2)))
            dIn[2] = c.ReduceSum(dy, axes, keepDims: false);
    }

    private static void LayerNorm(GradientContext c, Node node, Value dy, Value?[] dIn)
    {
        var x = node.Input(0)!;
        var xShape = c.ShapeOf(x);
        int r = xShape.Length;
        long axis = GradientContext.Axis(node.Attributes.GetInt("axis", -1), r);
        float eps = node.Attributes.GetFloat("epsilon", 1e-5f);
        var normAxes = Enumerable.Range((int)axis, r - (int)axis).Select(i => (long)i).ToArray();
        var leadAxes = Enumerable.Range(0, (int)axis).Select(i => (long)i).ToArray();
        var mean = c.ReduceMean(x, normAxes, keepDims: true);
        var xc = c.Sub(x, mean);
        var variance = c.ReduceMean(c.Mul(xc, xc), normAxes, keepDims: true);
        var inv = c.Op("Reciprocal", [c.Op("Sqrt", [c.Add(variance, c.Scalar(eps))])]);
        var xhat = c.Mul(xc, inv);
        var scale = node.Input(1)!;
        var scaleShape = c.ShapeOf(scale);
        long[] normShape = xShape[(int)axis..];
        if (c.NeedsGradient(x))
        {
            var dxhat = c.Mul(dy, scale);
            var m1 = c.ReduceMean(dxhat, normAxes, keepDims: true);
            var m2 = c.ReduceMean(c.Mul(dxhat, xhat), normAxes, keepDims: true);
            dIn[0] = c.Mul(c.Sub(c.Sub(dxhat, m1), c.Mul(xhat, m2)), inv);
        }
        if (c.NeedsGradient(scale))
            dIn[1] = c.SumToShape(c.Reshape(c.ReduceSum(c.Mul(dy, xhat), leadAxes, keepDims: false), normShape), normShape, scaleShape);
        if (node.Input(2) is { Name.Length: > 0 } bias && c.NeedsGradient(bias))
            dIn[2] = c.SumToShape(c.Reshape(c.ReduceSum(dy, leadAxes, keepDims: false), normShape), normShape, c.ShapeOf(bias));
    }
}
