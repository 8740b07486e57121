using OnnxPrune.Graph;

namespace OnnxPrune.Training.Gradients;

/// <summary>
/// Conv (any rank ≥ 1 spatial, grouped, depthwise, strided, padded, dilated, auto_pad).
/// dX = ConvTranspose(dY, W) with the same strides/pads/dilations/group and the output padding that restores X's size;
/// dW = a convolution of X with dY (see <see cref="WeightGradient"/>); dB = ΣdY over batch and space.
/// </summary>
public sealed class ConvGradient : GradientRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes => ["Conv"];

    /// <inheritdoc/>
    protected override IReadOnlyList<int> DifferentiableInputs => [0, 1, 2];

    /// <inheritdoc/>
    protected override void Backward(GradientContext c, Node node, IReadOnlyList<Value?> dOut, Value?[] dIn)
    {
        var dy = dOut[0];
        if (dy is null) return;
        var x = node.Input(0)!;
        var w = node.Input(1)!;
        var p = ConvParams.Of(c, node, c.ShapeOf(x), c.ShapeOf(w), transposed: false);
        var yShape = c.ShapeOf(node.Output(0)!);
        if (c.NeedsGradient(x))
        {
            var outputPadding = new long[p.Spatial];
            for (int i = 0; i < p.Spatial; i++)
                outputPadding[i] = p.InSize[i] - ((yShape[2 + i] - 1) * p.Strides[i] + (p.Kernel[i] - 1) * p.Dilations[i] + 1 - p.Pads[i] - p.Pads[i + p.Spatial]);
            if (outputPadding.Any(o => o < 0)) throw c.Unsupported(node, "negative output padding for the input gradient");
            dIn[0] = c.Op("ConvTranspose", [dy, w], ("strides", p.Strides), ("pads", p.Pads), ("dilations", p.Dilations),
                ("group", p.Group), ("output_padding", outputPadding), ("kernel_shape", p.Kernel));
        }
        if (c.NeedsGradient(w))
            dIn[1] = WeightGradient(c, x, c.ShapeOf(x), dy, yShape, c.ShapeOf(w), p);
        if (node.Input(2) is { } b && c.NeedsGradient(b))
            dIn[2] = c.ReduceSum(dy, [0, .. Enumerable.Range(2, p.Spatial).Select(i => (long)i)], keepDims: false);
    }

    /// <summary>Largest im2col buffer (elements) before falling back to the convolution form: 32 M floats = 128 MB.</summary>
    internal const long Im2ColLimit = 32L << 20;

    /// <summary>
    /// dW[g·Og+o, ci] = Σₙ X[n, g·Cg+ci] ⋆ dY[n, g·Og+o]: a convolution whose "batch" is the input channel within a group and
    /// whose channels are (group, sample), with the forward strides as dilations and the forward dilations as strides,
    /// cropped to the kernel size. A 1×1, stride-1, unpadded kernel is one Gemm instead.
    /// </summary>
    internal static Value WeightGradient(GradientContext c, Value x, long[] xShape, Value dy, long[] yShape, long[] wShape, ConvParams p)
    {
        long n = xShape[0], cin = xShape[1], cout = wShape[0], g = p.Group, cg = cin / g, og = cout / g;
        int s = p.Spatial;
        var spatialX = xShape[2..];
        var spatialY = yShape[2..];
        if (g == 1 && p.Kernel.All(k => k == 1) && p.Strides.All(v => v == 1) && p.Pads.All(v => v == 0))
        {
            // dW[o, i] = Σ_{n,pixels} dY[n,o,·] X[n,i,·]: batched MatMul then a sum over n.
            long pixels = spatialX.Aggregate(1L, (a, b) => a * b);
            var x3 = c.Reshape(x, [n, cin, pixels]);
            var dy3 = c.Reshape(dy, [n, cout, pixels]);
            var prod = c.Op("MatMul", [dy3, c.Transpose(x3, [0, 2, 1])]);
            return c.Reshape(c.ReduceSum(prod, [0], keepDims: false), wShape);
        }
        long colElements = cin * p.Kernel.Aggregate(1L, (a, b) => a * b) * n * spatialY.Aggregate(1L, (a, b) => a * b);
        if (g == 1 && s == 2 && p.Dilations.All(d => d == 1) && c.ConvWeightGradient == ConvWeightGradientMethod.Im2ColGemm && colElements <= Im2ColLimit)
            return Im2ColWeightGradient(c, x, xShape, dy, yShape, wShape, p);
        // X: [N, G, Cg, *S] → [Cg, G, N, *S] → [Cg, G·N, *S]
        var perm5 = new long[] { 2, 1, 0 }.Concat(Enumerable.Range(3, s).Select(i => (long)i)).ToArray();
        var xg = c.Reshape(x, [n, g, cg, .. spatialX]);
        var xt = c.Reshape(c.Transpose(xg, perm5), [cg, g * n, .. spatialX]);
        // dY: [N, G, Og, *S'] → [G, Og, N, *S'] → [G·Og, N, *S'] (weight of a grouped conv: G groups of N input channels)
        var permY = new long[] { 1, 2, 0 }.Concat(Enumerable.Range(3, s).Select(i => (long)i)).ToArray();
        var dyg = c.Reshape(dy, [n, g, og, .. spatialY]);
        var dyt = c.Reshape(c.Transpose(dyg, permY), [g * og, n, .. spatialY]);
        var conv = c.Op("Conv", [xt, dyt], ("strides", p.Dilations), ("pads", p.Pads), ("dilations", p.Strides), ("group", g),
            ("kernel_shape", spatialY));
        // Result [Cg, G·Og, *K'] → [G·Og, Cg, *K'], cropped to the kernel.
        var permW = new long[] { 1, 0 }.Concat(Enumerable.Range(2, s).Select(i => (long)i)).ToArray();
        var dw = c.Transpose(conv, permW);
        var kOut = new long[s];
        bool crop = false;
        for (int i = 0; i < s; i++)
        {
            kOut[i] = (spatialX[i] + p.Pads[i] + p.Pads[i + s] - p.Strides[i] * (spatialY[i] - 1) - 1) / p.Dilations[i] + 1;
            if (kOut[i] < p.Kernel[i]) throw new UnsupportedModelException($"Conv weight gradient: kernel {p.Kernel[i]} larger than the correlation ({kOut[i]}).");
            crop |= kOut[i] != p.Kernel[i];
        }
        if (crop)
            dw = c.Slice(dw, new long[s], p.Kernel, Enumerable.Range(2, s).Select(i => (long)i).ToArray());
        return dw;
    }

    /// <summary>
    /// dW = Σₙ dYₙ·colₙᵀ: col [N, C·k², OH·OW] holds the k² shifted (strided, padded) views of each input plane, produced by
    /// one Conv with one-hot kernels; a batched MatMul with dY [N, O, OH·OW] and a sum over N give [O, C·k²].
    /// </summary>
    private static Value Im2ColWeightGradient(GradientContext c, Value x, long[] xShape, Value dy, long[] yShape, long[] wShape, ConvParams p)
    {
        long n = xShape[0], cin = xShape[1], cout = wShape[0], pixels = yShape[2] * yShape[3];
        long kh = p.Kernel[0], kw = p.Kernel[1], kk = kh * kw;
        // im2col as one Conv: every (sample, channel) plane is convolved with k² one-hot kernels, giving [N·C, k², OH, OW].
        var eye = new float[kk * kk];
        for (int i = 0; i < kk; i++) eye[i * kk + i] = 1f;
        var picker = c.Builder.Initializer("im2col_eye", Tensors.Tensor.FromArray<float>(eye, [kk, 1, kh, kw]));
        var planes = c.Reshape(x, [n * cin, 1, xShape[2], xShape[3]]);
        var col = c.Op("Conv", [planes, picker], ("strides", p.Strides), ("pads", p.Pads), ("kernel_shape", p.Kernel));
        var colN = c.Reshape(col, [n, cin * kk, pixels]);                 // [N, C·k², P]
        var dyN = c.Reshape(dy, [n, cout, pixels]);                       // [N, O, P]
        var perSample = c.Op("MatMul", [dyN, c.Transpose(colN, [0, 2, 1])]); // [N, O, C·k²]
        return c.Reshape(c.ReduceSum(perSample, [0], keepDims: false), wShape);
    }
}

/// <summary>Resolved convolution attributes (explicit pads, defaults filled in).</summary>
internal sealed record ConvParams(int Spatial, long[] Kernel, long[] Strides, long[] Pads, long[] Dilations, long Group, long[] InSize)
{
    /// <summary>Reads Conv/ConvTranspose attributes; auto_pad becomes explicit pads (for Conv).</summary>
    public static ConvParams Of(GradientContext c, Node node, long[] xShape, long[] wShape, bool transposed)
    {
        var a = node.Attributes;
        int s = xShape.Length - 2;
        var kernel = a.GetInts("kernel_shape") ?? wShape[2..];
        var strides = a.GetInts("strides") ?? Enumerable.Repeat(1L, s).ToArray();
        var dil = a.GetInts("dilations") ?? Enumerable.Repeat(1L, s).ToArray();
        var pads = a.GetInts("pads") ?? new long[2 * s];
        var autoPad = a.GetString("auto_pad", "NOTSET");
        if (autoPad is "SAME_UPPER" or "SAME_LOWER")
        {
            if (transposed) throw c.Unsupported(node, "auto_pad SAME on ConvTranspose");
            pads = new long[2 * s];
            for (int i = 0; i < s; i++)
            {
                long outSize = (xShape[2 + i] + strides[i] - 1) / strides[i];
                long total = Math.Max(0, (outSize - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - xShape[2 + i]);
                long small = total / 2, large = total - small;
                (pads[i], pads[i + s]) = autoPad == "SAME_UPPER" ? (small, large) : (large, small);
            }
        }
        else if (autoPad is "VALID") pads = new long[2 * s];
        return new ConvParams(s, kernel, strides, pads, dil, a.GetInt("group", 1), xShape[2..]);
    }
}
