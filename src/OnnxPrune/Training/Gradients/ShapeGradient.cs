using OnnxPrune.Graph;

namespace OnnxPrune.Training.Gradients;

/// <summary>
/// Ops that only move or view elements: Reshape, Flatten, Squeeze, Unsqueeze (dX = dY reshaped to X's shape),
/// Identity and Dropout (inference: dX = dY), Transpose (dY transposed by the inverse permutation), Expand
/// (dY summed over the broadcast axes).
/// </summary>
public sealed class ShapeGradient : GradientRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes => ["Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Transpose", "Expand"];

    /// <inheritdoc/>
    protected override void Backward(GradientContext c, Node node, IReadOnlyList<Value?> dOut, Value?[] dIn)
    {
        var dy = dOut[0];
        if (dy is null) return;
        var x = node.Input(0)!;
        switch (node.OpType)
        {
            case "Identity":
            case "Dropout":
                dIn[0] = dy;
                break;
            case "Transpose":
            {
                int r = c.RankOf(x);
                var perm = node.Attributes.GetInts("perm") ?? Enumerable.Range(0, r).Reverse().Select(i => (long)i).ToArray();
                var inverse = new long[r];
                for (int i = 0; i < r; i++) inverse[perm[i]] = i;
                dIn[0] = c.Transpose(dy, inverse);
                break;
            }
            case "Expand":
                dIn[0] = c.SumToShape(dy, c.ShapeOf(node.Output(0)!), c.ShapeOf(x));
                break;
            default:
                dIn[0] = c.Reshape(dy, c.ShapeOf(x));
                break;
        }
    }
}
