using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace OnnxPrune.Pruning.Importance;

/// <summary>The three reductions magnitude scoring streams every weight through: Σx², Σ|x| and the element-wise
/// accumulation of x² or |x| into a row buffer.</summary>
/// <remarks>
/// Why not TensorPrimitives here (the rest of the library uses it): its kernels are generic over Vector512 and are
/// never precompiled (ReadyToRun refuses code that depends on AVX-512), so in a one-second <c>onnxprune prune</c>
/// process they run as tier-0 code, one call per vector operation, for the whole pass over the weights (tiering
/// promotes them only after the process has gone quiet for 100 ms). These loops are compiled once, fully optimised,
/// on first use (<see cref="MethodImplOptions.AggressiveOptimization"/>), and are plain <see cref="Vector{T}"/> loops
/// with a scalar tail. Measured on the generated 123 MB model: tools/PruneBenchmark/README.md.
/// Sums accumulate in float per vector lane (as TensorPrimitives does); callers add each call's result to a double.
/// NaN and ±infinity propagate to the result.
/// </remarks>
internal static class MagnitudeKernels
{
    /// <summary>Σ x².</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float SumOfSquares(ReadOnlySpan<float> x)
    {
        var vectors = MemoryMarshal.Cast<float, Vector<float>>(x);
        Vector<float> a = Vector<float>.Zero, b = Vector<float>.Zero;
        int v = 0;
        for (; v + 1 < vectors.Length; v += 2)
        {
            a += vectors[v] * vectors[v];
            b += vectors[v + 1] * vectors[v + 1];
        }
        if (v < vectors.Length) a += vectors[v] * vectors[v];
        float sum = Vector.Sum(a + b);
        for (int i = vectors.Length * Vector<float>.Count; i < x.Length; i++) sum += x[i] * x[i];
        return sum;
    }

    /// <summary>Σ |x|.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float SumOfMagnitudes(ReadOnlySpan<float> x)
    {
        var vectors = MemoryMarshal.Cast<float, Vector<float>>(x);
        Vector<float> a = Vector<float>.Zero, b = Vector<float>.Zero;
        int v = 0;
        for (; v + 1 < vectors.Length; v += 2)
        {
            a += Vector.Abs(vectors[v]);
            b += Vector.Abs(vectors[v + 1]);
        }
        if (v < vectors.Length) a += Vector.Abs(vectors[v]);
        float sum = Vector.Sum(a + b);
        for (int i = vectors.Length * Vector<float>.Count; i < x.Length; i++) sum += Math.Abs(x[i]);
        return sum;
    }

    /// <summary>sum[i] += x[i]² (<paramref name="squares"/>) or |x[i]|, for every i; the spans have the same length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Accumulate(ReadOnlySpan<float> x, Span<float> sum, bool squares)
    {
        if (x.Length != sum.Length) throw new ArgumentException($"{x.Length} values for a buffer of {sum.Length}.", nameof(x));
        var xs = MemoryMarshal.Cast<float, Vector<float>>(x);
        var sums = MemoryMarshal.Cast<float, Vector<float>>(sum);
        int tail = xs.Length * Vector<float>.Count;
        if (squares)
        {
            for (int v = 0; v < xs.Length; v++) sums[v] += xs[v] * xs[v];
            for (int i = tail; i < x.Length; i++) sum[i] += x[i] * x[i];
        }
        else
        {
            for (int v = 0; v < xs.Length; v++) sums[v] += Vector.Abs(xs[v]);
            for (int i = tail; i < x.Length; i++) sum[i] += Math.Abs(x[i]);
        }
    }
}
