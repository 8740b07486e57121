using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Training.Gradients;

/// <summary>
/// Pooling. GlobalAveragePool: dX = dY/|S| broadcast. AveragePool: a depthwise ConvTranspose of dY/count with a ones kernel.
/// MaxPool with non-overlapping windows (kernel = stride, no padding): dY is spread over the window's maxima
/// (split evenly between ties) by a broadcast instead of gathering indices; other MaxPools use the Indices output with a
/// ScatterElements(add) (exact; training graphs are at opset ≥ 16). GlobalMaxPool: dY at the maxima, split between ties.
/// </summary>
public sealed class PoolingGradient : GradientRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes => ["GlobalAveragePool", "AveragePool", "MaxPool", "GlobalMaxPool"];

    /// <inheritdoc/>
    protected override void Backward(GradientContext c, Node node, IReadOnlyList<Value?> dOut, Value?[] dIn)
    {
        var dy = dOut[0];
        if (dy is null) return;
        var x = node.Input(0)!;
        var xShape = c.ShapeOf(x);
        var yShape = c.ShapeOf(node.Output(0)!);
        int s = xShape.Length - 2;
        long spatial = xShape[2..].Aggregate(1L, (a, b) => a * b);
        switch (node.OpType)
        {
            case "GlobalAveragePool":
                dIn[0] = c.Expand(c.Mul(dy, 1f / spatial), xShape);
                break;
            case "GlobalMaxPool":
            {
                var mask = c.ToFloat(c.Op("Equal", [x, node.Output(0)!]));
                var count = c.ReduceSum(mask, Enumerable.Range(2, s).Select(i => (long)i).ToArray(), keepDims: true);
                dIn[0] = c.Mul(mask, c.Div(dy, count));
                break;
            }
            case "AveragePool":
                dIn[0] = AveragePool(c, node, dy, xShape, yShape);
                break;
            case "MaxPool":
                dIn[0] = MaxPool(c, node, dy, x, xShape, yShape);
                break;
        }
    }

    private static Value AveragePool(GradientContext c, Node node, Value dy, long[] xShape, long[] yShape)
    {
        var a = node.Attributes;
        int s = xShape.Length - 2;
        var kernel = a.GetInts("kernel_shape") ?? throw c.Unsupported(node, "no kernel_shape");
        var strides = a.GetInts("strides") ?? Enumerable.Repeat(1L, s).ToArray();
        var pads = a.GetInts("pads") ?? new long[2 * s];
        if (a.GetString("auto_pad", "NOTSET") is not ("NOTSET" or "VALID")) throw c.Unsupported(node, "auto_pad SAME");
        if ((a.GetInts("dilations") ?? []).Any(d => d != 1)) throw c.Unsupported(node, "dilated AveragePool");
        bool includePad = a.GetInt("count_include_pad", 0) != 0;
        long ch = xShape[1];
        long k = kernel.Aggregate(1L, (p, q) => p * q);
        var ones = new float[ch * k];
        Array.Fill(ones, 1f);
        var w = c.Builder.Initializer("avgpool_grad_w", Tensor.FromArray<float>(ones, [ch, 1, .. kernel]));
        Value scaled;
        if (includePad || pads.All(p => p == 0))
        {
            scaled = c.Mul(dy, 1f / k);
        }
        else
        {
            if (s != 2) throw c.Unsupported(node, "count_include_pad=0 with padding is supported for 2-D pooling only");
            scaled = c.Div(dy, c.Builder.Initializer("avgpool_count", Tensor.FromArray<float>(Counts(xShape, yShape, kernel, strides, pads), [1, 1, yShape[2], yShape[3]])));
        }
        var outputPadding = new long[s];
        for (int i = 0; i < s; i++)
            outputPadding[i] = xShape[2 + i] - ((yShape[2 + i] - 1) * strides[i] + kernel[i] - pads[i] - pads[i + s]);
        if (outputPadding.Any(o => o < 0)) throw c.Unsupported(node, "ceil_mode windows past the padded input");
        return c.Op("ConvTranspose", [scaled, w], ("strides", strides), ("pads", pads), ("group", ch), ("output_padding", outputPadding), ("kernel_shape", kernel));
    }

    private static float[] Counts(long[] xShape, long[] yShape, long[] kernel, long[] strides, long[] pads)
    {
        var counts = new float[yShape[2] * yShape[3]];
        for (long i = 0; i < yShape[2]; i++)
            for (long j = 0; j < yShape[3]; j++)
            {
                long h0 = i * strides[0] - pads[0], w0 = j * strides[1] - pads[1];
                long h = Math.Min(h0 + kernel[0], xShape[2]) - Math.Max(h0, 0);
                long w = Math.Min(w0 + kernel[1], xShape[3]) - Math.Max(w0, 0);
                counts[i * yShape[3] + j] = Math.Max(1, h * w);
            }
        return counts;
    }

    private static Value MaxPool(GradientContext c, Node node, Value dy, Value x, long[] xShape, long[] yShape)
    {
        var a = node.Attributes;
        int s = xShape.Length - 2;
        var kernel = a.GetInts("kernel_shape") ?? throw c.Unsupported(node, "no kernel_shape");
        var strides = a.GetInts("strides") ?? Enumerable.Repeat(1L, s).ToArray();
        var pads = a.GetInts("pads") ?? new long[2 * s];
        bool plain = (a.GetInts("dilations") ?? []).All(d => d == 1) && a.GetString("auto_pad", "NOTSET") is "NOTSET" or "VALID";
        bool tiled = plain && pads.All(p => p == 0) && kernel.SequenceEqual(strides) &&
                     Enumerable.Range(0, s).All(i => xShape[2 + i] == yShape[2 + i] * kernel[i]);
        if (tiled)
        {
            // Windows tile X exactly: view X as [N, C, OH, kh, OW, kw, ...] and broadcast Y and dY over the window axes.
            long[] split = [xShape[0], xShape[1]];
            long[] window = [xShape[0], xShape[1]];
            for (int i = 0; i < s; i++) { split = [.. split, yShape[2 + i], kernel[i]]; window = [.. window, yShape[2 + i], 1]; }
            var windowAxes = Enumerable.Range(0, s).Select(i => (long)(3 + 2 * i)).ToArray();
            var xv = c.Reshape(x, split);
            var mask = c.ToFloat(c.Op("Equal", [xv, c.Reshape(node.Output(0)!, window)]));
            var count = c.ReduceSum(mask, windowAxes, keepDims: true);
            return c.Reshape(c.Mul(mask, c.Div(c.Reshape(dy, window), count)), xShape);
        }
        if (node.Output(1) is not null) throw c.Unsupported(node, "MaxPool whose Indices output is used by the model");
        // Recompute with the Indices output (flattened over the whole tensor) and scatter-add dY into place.
        var withIndices = c.Builder.OpNode("MaxPool", [x], 2, node.Attributes.Names.Select(n => (n, AttributeValue(node, n))).ToArray());
        long total = xShape.Aggregate(1L, (p, q) => p * q);
        var flatIdx = c.Reshape(withIndices.Output(1)!, [-1]);
        var flatDy = c.Reshape(dy, [-1]);
        var scattered = c.Op("ScatterElements", [c.Zeros([total]), flatIdx, flatDy], ("axis", 0L), ("reduction", "add"));
        return c.Reshape(scattered, xShape);
    }

    private static object AttributeValue(Node node, string name)
    {
        var a = node.Attributes.Find(name)!;
        return a.Type switch
        {
            Onnx.Proto.AttributeProto.Types.AttributeType.Int => a.I,
            Onnx.Proto.AttributeProto.Types.AttributeType.Ints => a.Ints.ToArray(),
            Onnx.Proto.AttributeProto.Types.AttributeType.String => a.S.ToStringUtf8(),
            Onnx.Proto.AttributeProto.Types.AttributeType.Float => a.F,
            _ => throw new UnsupportedModelException($"MaxPool attribute '{name}' of type {a.Type}."),
        };
    }
}
