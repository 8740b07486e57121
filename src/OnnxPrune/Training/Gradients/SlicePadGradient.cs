using OnnxPrune.Graph;

namespace OnnxPrune.Training.Gradients;

/// <summary>
/// Slice and Pad (constant mode) are adjoint: the gradient of a slice is dY zero-padded back to X's shape, the gradient
/// of a pad is dY sliced back (negative pads, i.e. crops, are padded back). A Slice step s ≠ 1 first spreads dY along
/// its axis (s − 1 zeros after each element; reversed first when s &lt; 0). Starts/ends/steps/pads must be constant or
/// computed from shapes.
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
            var pads = new long[2 * r];
            var g = dy;
            var gShape = c.ShapeOf(node.Output(0)!).ToArray();
            for (int i = 0; i < starts.Length; i++)
            {
                int ax = (int)GradientContext.Axis(axes[i], r);
                long dim = xShape[ax], step = steps[i];
                if (step == 0) throw c.Unsupported(node, "Slice with step 0");
                // ONNX's clamping: [0, dim] for positive steps, [0, dim−1] (start) and [−1, dim−1] (end) for negative ones.
                long start = starts[i] < 0 ? starts[i] + dim : starts[i];
                long end = ends[i] < 0 ? ends[i] + dim : ends[i];
                (start, end) = step > 0 ? (Math.Clamp(start, 0, dim), Math.Clamp(end, 0, dim)) : (Math.Clamp(start, 0, dim - 1), Math.Clamp(end, -1, dim - 1));
                long count = Math.Max(0, step > 0 ? (end - start + step - 1) / step : (start - end + -step - 1) / -step);
                if (count == 0) { dIn[0] = c.Zeros(xShape); return; }
                long stride = Math.Abs(step), first = step > 0 ? start : start - (count - 1) * stride;
                if (step < 0) // the output runs backwards: reverse it so positions ascend from `first`
                    g = c.Op("Slice", [g, c.Int64s(-1), c.Int64s(-(count + 1)), c.Int64s(ax), c.Int64s(-1)]);
                if (stride > 1)
                {
                    // Spread: [.., count, ..] → [.., count, 1, ..] → zero-pad to [.., count, stride, ..] → [.., count·stride, ..].
                    var unsqueezed = gShape.Take(ax + 1).Append(1L).Concat(gShape.Skip(ax + 1)).ToArray();
                    var spreadPads = new long[2 * (r + 1)];
                    spreadPads[ax + 1 + r + 1] = stride - 1;
                    g = c.Op("Pad", [c.Reshape(g, unsqueezed), c.Int64s(spreadPads)]);
                    gShape[ax] = count * stride;
                    g = c.Reshape(g, gShape);
                }
                pads[ax] = first;
                pads[ax + r] = dim - first - gShape[ax];
            }
            dIn[0] = PadOrCrop(c, g, gShape, pads);
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
