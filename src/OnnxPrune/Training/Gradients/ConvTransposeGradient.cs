using OnnxPrune.Graph;

namespace OnnxPrune.Training.Gradients;

/// <summary>
/// ConvTranspose (the adjoint of Conv): dX = Conv(dY, W) with the same strides/pads/dilations/group;
/// dW = the Conv weight gradient with the roles swapped (dY as the input, X as the output gradient); dB = ΣdY.
/// </summary>
public sealed class ConvTransposeGradient : GradientRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes => ["ConvTranspose"];

    /// <inheritdoc/>
    protected override IReadOnlyList<int> DifferentiableInputs => [0, 1, 2];

    /// <inheritdoc/>
    protected override void Backward(GradientContext c, Node node, IReadOnlyList<Value?> dOut, Value?[] dIn)
    {
        var dy = dOut[0];
        if (dy is null) return;
        var x = node.Input(0)!;
        var w = node.Input(1)!;
        var xShape = c.ShapeOf(x);
        var yShape = c.ShapeOf(node.Output(0)!);
        var wShape = c.ShapeOf(w);
        if (node.Attributes.GetInts("output_shape") is not null) throw c.Unsupported(node, "the output_shape attribute (use pads and output_padding)");
        var p = ConvParams.Of(c, node, xShape, wShape, transposed: true);
        if (c.NeedsGradient(x))
            dIn[0] = c.Op("Conv", [dy, w], ("strides", p.Strides), ("pads", p.Pads), ("dilations", p.Dilations), ("group", p.Group), ("kernel_shape", p.Kernel));
        if (c.NeedsGradient(w))
        {
            // As a Conv, Z = Conv(Y, W) maps Y's shape to X's: the weight gradient pairs input dY with output gradient X.
            var asConv = p with { InSize = yShape[2..] };
            // ConvTranspose weights are [Cin, Cout/G, k...], which is exactly a Conv weight mapping Cout → Cin.
            dIn[1] = ConvGradient.WeightGradient(c, dy, yShape, x, xShape, wShape, asConv);
        }
        if (node.Input(2) is { } b && c.NeedsGradient(b))
            dIn[2] = c.ReduceSum(dy, [0, .. Enumerable.Range(2, p.Spatial).Select(i => (long)i)], keepDims: false);
    }
}
