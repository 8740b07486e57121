using OnnxPrune.Graph;

namespace OnnxPrune.Training.Gradients;

/// <summary>
/// Slice (step 1) and Pad (constant mode) are adjoint: the gradient of a slice is dY zero-padded back to X's shape,
/// the gradient of a pad is dY sliced back (negative pads, i.e. crops, are padded back). Starts/ends/pads must be
/// constant or computed from shapes.
/// </summary>
public sealed class SlicePadGradient : GradientRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes => ["Slice", "Pad"];

    /// <inheritdoc/>
    protected override void Backward(GradientContext c, Node node, IReadOnlyList<Value?> dOut, Value?[] dIn)
    {
        var dy = dOut[0];
        if (dy is null) return;
        var x = node.Input(0)!;
        var xShape = c.ShapeOf(x);
        int r = xShape.Length;
        if (node.OpType == "Slice")
        {
            var starts = c.Ints(node, 1);
            var ends = c.Ints(node, 2);
            var axes = node.Input(3) is { Name.Length: > 0 } ? c.Ints(node, 3) : Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
            var steps = node.Input(4) is { Name.Length: > 0 } ? c.Ints(node, 4) : Enumerable.Repeat(1L, starts.Length).ToArray();
            if (steps.Any(s => s != 1)) throw c.Unsupported(node, "Slice with a step other than 1");
            var pads = new long[2 * r];
            for (int i = 0; i < starts.Length; i++)
            {
                int ax = (int)GradientContext.Axis(axes[i], r);
                long dim = xShape[ax];
                long start = Clamp(starts[i] < 0 ? starts[i] + dim : starts[i], dim);
                long end = Clamp(ends[i] < 0 ? ends[i] + dim : ends[i], dim);
                pads[ax] = start;
                pads[ax + r] = dim - Math.Max(end, start);
            }
            dIn[0] = PadOrCrop(c, dy, c.ShapeOf(node.Output(0)!), pads);
        }
        else
        {
            var mode = node.Attributes.GetString("mode", "constant");
            if (mode != "constant") throw c.Unsupported(node, $"Pad mode '{mode}'");
            var pads = c.Ints(node, 1);
            if (node.Input(3) is { Name.Length: > 0 })
            {
                var axes = c.Ints(node, 3);
                var full = new long[2 * r];
                for (int i = 0; i < axes.Length; i++)
                {
                    int ax = (int)GradientContext.Axis(axes[i], r);
                    full[ax] = pads[i];
                    full[ax + r] = pads[i + axes.Length];
                }
                pads = full;
            }
            dIn[0] = PadOrCrop(c, dy, c.ShapeOf(node.Output(0)!), pads.Select(p => -p).ToArray());
        }
    }

    private static long Clamp(long v, long dim) => Math.Max(0, Math.Min(v, dim));

    /// <summary>Applies signed pads (positive: zero padding, negative: cropping) to a tensor of a known shape.</summary>
    private static Value PadOrCrop(GradientContext c, Value v, long[] shape, long[] pads)
    {
        int r = shape.Length;
        if (pads.Any(p => p < 0))
        {
            var starts = new long[r];
            var ends = new long[r];
            for (int i = 0; i < r; i++)
            {
                starts[i] = Math.Max(0, -pads[i]);
                ends[i] = shape[i] - Math.Max(0, -pads[i + r]);
            }
            v = c.Slice(v, starts, ends, Enumerable.Range(0, r).Select(i => (long)i).ToArray());
        }
        var positive = pads.Select(p => Math.Max(0, p)).ToArray();
        return positive.Any(p => p > 0) ? c.Op("Pad", [v, c.Int64s(positive)]) : v;
    }
}
