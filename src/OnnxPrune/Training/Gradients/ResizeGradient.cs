using OnnxPrune.Graph;

namespace OnnxPrune.Training.Gradients;

/// <summary>
/// Resize in nearest mode with integer upscaling factors (each input pixel is copied to a block of s₁×s₂ outputs, which
/// holds for the common coordinate modes): dX = dY summed over each block.
/// </summary>
public sealed class ResizeGradient : GradientRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes => ["Resize", "Upsample"];

    /// <inheritdoc/>
    protected override void Backward(GradientContext c, Node node, IReadOnlyList<Value?> dOut, Value?[] dIn)
    {
        var dy = dOut[0];
        if (dy is null) return;
        if (node.Attributes.GetString("mode", "nearest") != "nearest") throw c.Unsupported(node, "only nearest-mode Resize is differentiable here");
        var xShape = c.ShapeOf(node.Input(0)!);
        var yShape = c.ShapeOf(node.Output(0)!);
        int r = xShape.Length;
        long[] split = [];
        var axes = new List<long>();
        for (int i = 0; i < r; i++)
        {
            if (yShape[i] % xShape[i] != 0) throw c.Unsupported(node, $"non-integer scale {yShape[i]}/{xShape[i]} on axis {i}");
            long f = yShape[i] / xShape[i];
            split = [.. split, xShape[i], f];
            axes.Add(2 * i + 1);
        }
        var blocks = c.Reshape(dy, split);
        dIn[0] = c.Reshape(c.ReduceSum(blocks, axes.ToArray(), keepDims: false), xShape);
    }
}
