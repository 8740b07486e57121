using OnnxPrune.Graph;

namespace OnnxPrune.Training.Gradients;

/// <summary>
/// MatMul with numpy semantics (batched, broadcasting, 1-D operands): dA = dY·Bᵀ, dB = Aᵀ·dY, each summed over the
/// batch axes it was broadcast along. A 2-D weight B under a batched A gets one Gemm over the flattened batch.
/// </summary>
public sealed class MatMulGradient : GradientRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes => ["MatMul"];

    /// <inheritdoc/>
    protected override IReadOnlyList<int> DifferentiableInputs => [0, 1];

    /// <inheritdoc/>
    protected override void Backward(GradientContext c, Node node, IReadOnlyList<Value?> dOut, Value?[] dIn)
    {
        var dy = dOut[0];
        if (dy is null) return;
        var a = node.Input(0)!;
        var b = node.Input(1)!;
        long[] aShape = c.ShapeOf(a), bShape = c.ShapeOf(b);
        // Promote 1-D operands to matrices, as MatMul does.
        long[] a2 = aShape.Length == 1 ? [1, aShape[0]] : aShape;
        long[] b2 = bShape.Length == 1 ? [bShape[0], 1] : bShape;
        var batch = Broadcast(a2[..^2], b2[..^2]);
        long m = a2[^2], k = a2[^1], n = b2[^1];
        long[] yShape = [.. batch, m, n];
        var dy2 = c.Reshape(dy, yShape);
        var aM = aShape.Length == 1 ? c.Reshape(a, a2) : a;
        var bM = bShape.Length == 1 ? c.Reshape(b, b2) : b;
        if (c.NeedsGradient(a))
        {
            var bT = c.Transpose(bM, SwapLast(b2.Length));
            var da = c.Op("MatMul", [dy2, bT]);
            dIn[0] = c.Reshape(c.SumToShape(da, [.. batch, m, k], a2), aShape);
        }
        if (c.NeedsGradient(b))
        {
            if (b2.Length == 2 && batch.Length > 0)
            {
                long rows = batch.Aggregate(1L, (x, y) => x * y) * m;
                var aFull = a2[..^2].SequenceEqual(batch) ? aM : c.Expand(aM, [.. batch, m, k]);
                var aFlat = c.Reshape(aFull, [rows, k]);
                var dyFlat = c.Reshape(dy2, [rows, n]);
                dIn[1] = c.Reshape(c.Op("Gemm", [aFlat, dyFlat], ("transA", 1L)), bShape);
            }
            else
            {
                var aT = c.Transpose(aM, SwapLast(a2.Length));
                var db = c.Op("MatMul", [aT, dy2]);
                dIn[1] = c.Reshape(c.SumToShape(db, [.. batch, k, n], b2), bShape);
            }
        }
    }

    private static long[] SwapLast(int rank)
    {
        var perm = Enumerable.Range(0, rank).Select(i => (long)i).ToArray();
        (perm[^1], perm[^2]) = (perm[^2], perm[^1]);
        return perm;
    }

    private static long[] Broadcast(long[] x, long[] y)
    {
        int r = Math.Max(x.Length, y.Length);
        var result = new long[r];
        for (int i = 0; i < r; i++)
        {
            long dx = i - (r - x.Length) >= 0 ? x[i - (r - x.Length)] : 1;
            long dy = i - (r - y.Length) >= 0 ? y[i - (r - y.Length)] : 1;
            result[i] = Math.Max(dx, dy);
        }
        return result;
    }
}
