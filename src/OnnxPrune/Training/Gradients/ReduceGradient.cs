using OnnxPrune.Graph;

namespace OnnxPrune.Training.Gradients;

/// <summary>ReduceSum and ReduceMean: dY (reshaped to keepdims form) broadcast back to X, divided by the count for the mean.</summary>
public sealed class ReduceGradient : GradientRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes => ["ReduceSum", "ReduceMean"];

    /// <inheritdoc/>
    protected override void Backward(GradientContext c, Node node, IReadOnlyList<Value?> dOut, Value?[] dIn)
    {
        var dy = dOut[0];
        if (dy is null) return;
        var x = node.Input(0)!;
        var xShape = c.ShapeOf(x);
        int r = xShape.Length;
        // Axes: an attribute (ReduceMean before opset 18) or input 1 (ReduceSum from 13, all reductions from 18).
        long[]? axes = node.Attributes.GetInts("axes");
        if (axes is null && node.Input(1) is { Name.Length: > 0 }) axes = c.Ints(node, 1);
        bool noopWhenEmpty = node.Attributes.GetInt("noop_with_empty_axes", 0) != 0;
        if (axes is null || axes.Length == 0)
        {
            if (noopWhenEmpty) { dIn[0] = dy; return; }
            axes = Enumerable.Range(0, r).Select(i => (long)i).ToArray();
        }
        axes = axes.Select(a => GradientContext.Axis(a, r)).ToArray();
        var kept = xShape.Select((d, i) => axes.Contains(i) ? 1L : d).ToArray();
        long count = axes.Aggregate(1L, (p, a) => p * xShape[a]);
        var g = c.Reshape(dy, kept);
        if (node.OpType == "ReduceMean") g = c.Mul(g, 1f / count);
        dIn[0] = c.Expand(g, xShape);
    }
}
