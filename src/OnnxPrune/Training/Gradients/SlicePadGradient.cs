using OnnxPrune.Graph;

namespace OnnxPrune.Training.Gradients;

/// <summary>
/// Slice and Pad are adjoint: the gradient of a slice is dY zero-padded back to X's shape, the gradient
/// of a pad is dY sliced back (negative pads, i.e. crops, are padded back). A Slice step s ≠ 1 first spreads dY along
/// its axis (s − 1 zeros after each element; reversed first when s &lt; 0). Pad's reflect, edge and wrap modes copy
/// interior values into the border, so their gradient adds each border's gradient back onto the values it copied.
/// Starts/ends/steps/pads must be constant or computed from shapes.
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
                    g = c.Reverse(g, ax, count);
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
            if (mode is not ("constant" or "reflect" or "edge" or "wrap")) throw c.Unsupported(node, $"Pad mode '{mode}'");
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
            if (mode == "constant")
            {
                dIn[0] = PadOrCrop(c, dy, c.ShapeOf(node.Output(0)!), pads.Select(p => -p).ToArray());
                return;
            }
            if (pads.Any(p => p < 0)) throw c.Unsupported(node, $"negative pads in '{mode}' mode");
            // The border values are copies of interior ones, axis by axis (the modes are separable), so each axis's
            // gradient is its centre plus the border gradients added back where they were copied from.
            var g = dy;
            var shape = c.ShapeOf(node.Output(0)!).ToArray();
            for (int ax = 0; ax < r; ax++)
            {
                long before = pads[ax], after = pads[ax + r];
                if (before == 0 && after == 0) continue;
                long limit = mode == "reflect" ? xShape[ax] - 1 : mode == "wrap" ? xShape[ax] : long.MaxValue;
                if (before > limit || after > limit) throw c.Unsupported(node, $"'{mode}' pads of {before}/{after} on an axis of {xShape[ax]}");
                g = FoldBorders(c, g, shape, ax, before, after, xShape[ax], mode);
                shape[ax] = xShape[ax];
            }
            dIn[0] = g;
        }
    }

    /// <summary>
    /// The gradient along one axis of a reflect/edge/wrap pad of a length-n axis by (before, after): the centre of
    /// <paramref name="g"/> plus each border's gradient added at the input positions that border copied.
    /// </summary>
    private static Value FoldBorders(GradientContext c, Value g, long[] shape, int ax, long before, long after, long n, string mode)
    {
        Value Part(long start, long end) => c.Slice(g, [start], [end], [ax]);
        Value Place(Value v, long at, long length) // zero-pad a piece of `length` along the axis to n, starting at `at`
        {
            var p = new long[2 * shape.Length];
            p[ax] = at;
            p[ax + shape.Length] = n - at - length;
            return c.Op("Pad", [v, c.Int64s(p)]);
        }
        var sum = Part(before, before + n);
        if (before > 0)
        {
            var border = Part(0, before);
            sum = c.Add(sum, mode switch
            {
                "reflect" => Place(c.Reverse(border, ax, before), 1, before),        // output i < before copied x[before − i]
                "edge" => Place(c.ReduceSum(border, [ax], keepDims: true), 0, 1), // every one copied x[0]
                _ => Place(border, n - before, before),                          // wrap: copied x[n − before + i]
            });
        }
        if (after > 0)
        {
            var border = Part(before + n, before + n + after);
            sum = c.Add(sum, mode switch
            {
                "reflect" => Place(c.Reverse(border, ax, after), n - 1 - after, after), // output n+before+k copied x[n − 2 − k]
                "edge" => Place(c.ReduceSum(border, [ax], keepDims: true), n - 1, 1),
                _ => Place(border, 0, after),                                      // wrap: copied x[k]
            });
        }
        return sum;
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
