using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Export;

/// <summary>The quantization arithmetic shared by the INT8 passes (ONNX's QuantizeLinear conventions:
/// <c>q = saturate(round_half_even(x / scale) + zero_point)</c>, <c>x ≈ (q − zero_point)·scale</c>).</summary>
internal static class Quantization
{
    /// <summary>Asymmetric uint8 parameters for a range (widened to include 0 so that 0 is exact).</summary>
    /// <exception cref="UnsupportedModelException">The range is not finite.</exception>
    public static (float Scale, byte ZeroPoint) Uint8(ActivationRange range, string name)
    {
        if (!float.IsFinite(range.Min) || !float.IsFinite(range.Max))
            throw new UnsupportedModelException($"Activation '{name}' has a non-finite calibration range {range}.");
        double lo = Math.Min(range.Min, 0), hi = Math.Max(range.Max, 0);
        double scale = (hi - lo) / 255;
        if (scale <= 0) scale = 1;
        double zp = Math.Round(-lo / scale, MidpointRounding.ToEven);
        return ((float)scale, (byte)Math.Clamp(zp, 0, 255));
    }

    /// <summary>Symmetric int8 weights (zero point 0, values in [−q, q] with q = 127, or 63 with reduced range), per
    /// channel along <paramref name="axis"/> or per tensor when <paramref name="axis"/> is negative.</summary>
    /// <returns>The int8 tensor and one scale per channel (one in all for per tensor).</returns>
    public static (Tensor Quantized, float[] Scales) SymmetricInt8(Tensor weight, int axis, bool reduceRange)
    {
        var w = weight.ToFloatArray();
        var shape = weight.Shape.ToArray();
        int qmax = reduceRange ? 63 : 127;
        long channels = axis < 0 ? 1 : shape[axis];
        long inner = 1, outer = 1;
        if (axis >= 0)
        {
            for (int d = axis + 1; d < shape.Length; d++) inner *= shape[d];
            for (int d = 0; d < axis; d++) outer *= shape[d];
        }
        else inner = w.Length;
        var maxAbs = new double[channels];
        for (long o = 0; o < outer; o++)
            for (long c = 0; c < channels; c++)
                for (long i = 0; i < inner; i++)
                    maxAbs[c] = Math.Max(maxAbs[c], Math.Abs(w[(o * channels + c) * inner + i]));
        var scales = maxAbs.Select(m => m > 0 ? (float)(m / qmax) : 1f).ToArray();
        var q = new sbyte[w.Length];
        for (long o = 0; o < outer; o++)
            for (long c = 0; c < channels; c++)
                for (long i = 0; i < inner; i++)
                {
                    long at = (o * channels + c) * inner + i;
                    q[at] = (sbyte)Math.Clamp(Math.Round(w[at] / (double)scales[c], MidpointRounding.ToEven), -qmax, qmax);
                }
        return (Tensor.FromArray<sbyte>(q, shape), scales);
    }

    /// <summary>A scale tensor: a scalar for one value, else 1-D.</summary>
    public static Tensor Scales(float[] scales, bool perChannel) =>
        perChannel ? Tensor.FromArray<float>(scales, scales.Length) : Tensor.Scalar(scales[0]);

    /// <summary>Adds <c>DequantizeLinear(q, scale, zero_point[, axis])</c> over new initializers; returns its output.</summary>
    public static Value AddDequantized(Graph.Graph graph, string hint, Tensor quantized, Tensor scale, Tensor zeroPoint, int? axis)
    {
        var q = PassHelpers.AddInitializer(graph, hint + "_quantized", quantized);
        var s = PassHelpers.AddInitializer(graph, hint + "_scale", scale);
        var z = PassHelpers.AddInitializer(graph, hint + "_zero_point", zeroPoint);
        var dq = graph.AddNode("DequantizeLinear", [q, s, z], [hint + "_dequantized"]);
        if (axis is { } a && scale.Rank == 1) dq.Attributes.Set("axis", (long)a);
        dq.Output(0)!.SetTensorType(ElementType.Float, quantized.Shape.Select(d => new Dim(d)).ToArray());
        return dq.Output(0)!;
    }
}
