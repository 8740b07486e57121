using OnnxPrune.Graph;

namespace OnnxPrune.Training.Gradients;

/// <summary>
/// Gather (embedding lookup, CLS-token pick): dY is scatter-added into zeros of X's shape at the gathered indices
/// (ScatterND with reduction='add'; training graphs are at opset ≥ 16, see GradientBuilder.MinimumOpset). The gather axis is moved to
/// the front first.
/// </summary>
public sealed class GatherGradient : GradientRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes => ["Gather"];

    /// <inheritdoc/>
    protected override void Backward(GradientContext c, Node node, IReadOnlyList<Value?> dOut, Value?[] dIn)
    {
        var dy = dOut[0];
        if (dy is null) return;
        var x = node.Input(0)!;
        var indices = node.Input(1)!;
        var xShape = c.ShapeOf(x);
        int r = xShape.Length;
        int axis = (int)GradientContext.Axis(node.Attributes.GetInt("axis", 0), r);
        var iShape = c.ShapeOf(indices);
        int q = iShape.Length;
        // X moved so the gather axis leads: [X_axis, X_0..X_axis-1, X_axis+1..]
        long[] xPerm = [axis, .. Enumerable.Range(0, r).Where(i => i != axis).Select(i => (long)i)];
        var xtShape = xPerm.Select(p => xShape[p]).ToArray();
        // dY is [X_0..X_axis-1, I..., X_axis+1..]: move the index axes to the front.
        long[] yPerm = [.. Enumerable.Range(axis, q).Select(i => (long)i), .. Enumerable.Range(0, axis).Select(i => (long)i),
            .. Enumerable.Range(axis + q, r - axis - 1).Select(i => (long)i)];
        var dyt = c.Transpose(dy, yPerm);
        var idx = c.Op("Unsqueeze", [c.Op("Cast", [indices], ("to", (long)Tensors.ElementType.Int64)), c.Int64s(-1)]);
        var scattered = c.Op("ScatterND", [c.Zeros(xtShape), idx, dyt], ("reduction", "add"));
        var inverse = new long[r];
        for (int i = 0; i < r; i++) inverse[xPerm[i]] = i;
        dIn[0] = c.Transpose(scattered, inverse);
    }
}
