using Microsoft.ML.OnnxRuntime;
using OnnxPrune.Graph;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;

namespace OnnxPrune.Training.Gradients;

/// <summary>
/// Resize (nearest, linear or cubic; any scales, any coordinate mode but tf_crop_and_resize) and Upsample.
/// <para>
/// Resize is linear in X and separable: along each resized axis a, Y = M_a·X for an interpolation matrix M_a
/// [out_a, in_a], so dX = M_aᵀ·dY axis by axis. Rather than re-deriving ONNX's coordinate and rounding rules, M_a is
/// measured at build time by running the same Resize node (same attributes, same per-axis scale or size) on ONNX
/// Runtime over the identity basis, so the gradient follows exactly the forward the model runs. When every M_a copies
/// each input element to a block of f outputs (nearest upscaling by an integer factor in the usual modes), dX is a
/// block sum instead of a MatMul.
/// </para>
/// Upsample (opset ≤ 9) keeps the block sum for nearest mode with integer factors.
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
        var xShape = c.ShapeOf(node.Input(0)!);
        var yShape = c.ShapeOf(node.Output(0)!);
        if (node.OpType == "Upsample")
        {
            if (node.Attributes.GetString("mode", "nearest") != "nearest") throw c.Unsupported(node, "only nearest-mode Upsample is differentiable here");
            var factors = new long[xShape.Length];
            for (int i = 0; i < xShape.Length; i++)
            {
                if (yShape[i] % xShape[i] != 0) throw c.Unsupported(node, $"non-integer scale {yShape[i]}/{xShape[i]} on axis {i}");
                factors[i] = yShape[i] / xShape[i];
            }
            dIn[0] = BlockSum(c, dy, xShape, factors);
            return;
        }

        var matrices = InterpolationMatrices(c, node, xShape, yShape);
        if (matrices.All(m => m.Value.BlockFactor > 0))
        {
            var factors = Enumerable.Range(0, xShape.Length).Select(i => matrices.TryGetValue(i, out var m) ? m.BlockFactor : 1L).ToArray();
            dIn[0] = BlockSum(c, dy, xShape, factors);
            return;
        }
        int r = xShape.Length;
        var g = dy;
        foreach (var (axis, m) in matrices.OrderByDescending(kv => kv.Key))
        {
            var mt = c.Builder.Initializer("resize_interp", m.Matrix);          // [out_a, in_a]
            if (axis == r - 1) g = c.Op("MatMul", [g, mt]);                       // [..., out] · [out, in]
            else if (axis == r - 2) g = c.Op("MatMul", [c.Transpose(mt, [1, 0]), g]); // [in, out] · [..., out, w]
            else
            {
                // Move the axis last, contract it, move it back.
                var perm = Enumerable.Range(0, r).Where(i => i != axis).Append(axis).Select(i => (long)i).ToArray();
                var back = new long[r];
                for (int i = 0; i < r; i++) back[perm[i]] = i;
                g = c.Transpose(c.Op("MatMul", [c.Transpose(g, perm), mt]), back);
            }
        }
        dIn[0] = g;
    }

    /// <summary>dX = dY summed over each block of f_i outputs per input element (f_i = 1 for unchanged axes).</summary>
    private static Value BlockSum(GradientContext c, Value dy, long[] xShape, long[] factors)
    {
        if (factors.All(f => f == 1)) return dy;
        var split = new List<long>();
        var axes = new List<long>();
        for (int i = 0; i < xShape.Length; i++)
        {
            split.Add(xShape[i]);
            split.Add(factors[i]);
            axes.Add(2 * i + 1);
        }
        return c.Reshape(c.ReduceSum(c.Reshape(dy, split.ToArray()), axes.ToArray(), keepDims: false), xShape);
    }

    /// <summary>Per resized axis: M_a as a float tensor [out_a, in_a], and its block factor f when M_a is a pure f-fold copy (else 0).</summary>
    private static Dictionary<int, (Tensor Matrix, long BlockFactor)> InterpolationMatrices(GradientContext c, Node node, long[] xShape, long[] yShape)
    {
        var a = node.Attributes;
        if (a.GetString("coordinate_transformation_mode", "half_pixel") == "tf_crop_and_resize")
            throw c.Unsupported(node, "tf_crop_and_resize fills outside the region with a constant, which is not linear in X");
        if (a.Contains("axes")) throw c.Unsupported(node, "Resize with an axes attribute");
        if (a.GetString("keep_aspect_ratio_policy", "stretch") != "stretch") throw c.Unsupported(node, "keep_aspect_ratio_policy other than stretch");
        if (a.GetInt("antialias", 0) != 0) throw c.Unsupported(node, "antialias=1");
        var scales = c.Floats(node, 2) is { Length: > 0 } s ? s : null;
        var sizes = scales is null ? c.Ints(node, 3) : null;
        int r = xShape.Length;
        var result = new Dictionary<int, (Tensor, long)>();
        for (int axis = 0; axis < r; axis++)
        {
            if (xShape[axis] == yShape[axis] && (scales is null || scales[axis] == 1f)) continue;
            if (axis == 0) throw c.Unsupported(node, "Resize along axis 0 (the batch)");
            var m = Measure(c, node, axis, xShape[axis], yShape[axis], scales?[axis], r);
            result[axis] = (m, BlockFactorOf(m, xShape[axis], yShape[axis]));
        }
        return result;
    }

    /// <summary>
    /// Runs the node alone on ORT over the identity basis of one axis: input [n, 1, …, n (at axis), …, 1] holding I_n,
    /// the same attributes, and the node's scale (or size) for that axis with 1 elsewhere. Row i of the output is
    /// Resize(e_i), i.e. column i of M: the output read as [n, out] is Mᵀ, returned transposed as [out, n].
    /// </summary>
    private static Tensor Measure(GradientContext c, Node node, int axis, long n, long outSize, float? scale, int rank)
    {
        var b = new GraphBuilder((int)c.Opset);
        var basisShape = Enumerable.Repeat(1L, rank).ToArray();
        basisShape[0] = n;
        basisShape[axis] = n;
        var identity = new float[n * n];
        for (long i = 0; i < n; i++) identity[i * n + i] = 1f;
        var x = b.Input("basis", ElementType.Float, basisShape.Cast<object>().ToArray());
        var roi = b.Initializer("roi", Array.Empty<float>(), 0);
        Value? scales = null, sizes = null;
        if (scale is { } f)
        {
            var values = Enumerable.Repeat(1f, rank).ToArray();
            values[axis] = f;
            scales = b.Initializer("scales", values, rank);
        }
        else
        {
            var values = basisShape.ToArray();
            values[axis] = outSize;
            sizes = b.Int64s("sizes", values);
            scales = b.Initializer("no_scales", Array.Empty<float>(), 0);
        }
        var resize = b.OpNode("Resize", sizes is null ? [x, roi, scales] : [x, roi, scales, sizes], 1);
        foreach (var name in node.Attributes.Names) resize.Proto.Attribute.Add(node.Attributes.Find(name)!.Clone());
        b.Output(resize.Output(0)!);
        var model = b.Build();
        using var session = OrtSessions.Create(model, new SessionSettings { OptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC, AllowSpinning = false, IntraOpThreads = 1 });
        var output = session.RunTensors(new Dictionary<string, Tensor> { ["basis"] = Tensor.FromArray<float>(identity, basisShape) }).Values.Single();
        if (output.ElementCount != n * outSize)
            throw c.Unsupported(node, $"measuring the interpolation of axis {axis} gave {Tensor.FormatShape(output.Shape.ToArray())}, not {n}×{outSize}");
        var mt = output.AsSpan<float>();
        var m = new float[outSize * n];
        for (long i = 0; i < n; i++)
            for (long o = 0; o < outSize; o++)
                m[o * n + i] = mt[(int)(i * outSize + o)];
        return Tensor.FromArray<float>(m, outSize, n);
    }

    /// <summary>f when M [out, n] has out = f·n and M[o, i] = [i == o / f]; else 0.</summary>
    private static long BlockFactorOf(Tensor m, long n, long outSize)
    {
        if (outSize % n != 0) return 0;
        long f = outSize / n;
        var v = m.AsSpan<float>();
        for (long o = 0; o < outSize; o++)
            for (long i = 0; i < n; i++)
                if (v[(int)(o * n + i)] != (i == o / f ? 1f : 0f)) return 0;
        return f;
    }
}
