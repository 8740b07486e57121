using System.Runtime.InteropServices;
using OnnxPrune.Tensors;

namespace OnnxPrune.Pruning;

/// <summary>Layout-level edits of dense tensors of any element type (raw bytes; fp16 and bf16 included).</summary>
/// <remarks>Both edits move whole contiguous runs (memmove / typed fill), never single elements through a loop of
/// byte copies, so they run at memory bandwidth.</remarks>
internal static class TensorSlicing
{
    /// <summary>Keeps only positions <paramref name="kept"/> (ascending) along <paramref name="axis"/>.</summary>
    public static Tensor Keep(Tensor t, int axis, IReadOnlyList<long> kept) => Keep(t, [(axis, kept as long[] ?? kept.ToArray())]);

    /// <summary>The positions <paramref name="positions"/> of <paramref name="axis"/>, in the order given (a gather along one
    /// axis, e.g. a classifier's rows reordered to a task's classes); one block copy per position and outer index.</summary>
    /// <exception cref="ArgumentException">The axis or a position is out of range.</exception>
    public static Tensor Take(Tensor t, int axis, IReadOnlyList<long> positions)
    {
        ArgumentNullException.ThrowIfNull(t);
        ArgumentNullException.ThrowIfNull(positions);
        var shape = t.Shape.ToArray();
        if (axis < 0 || axis >= shape.Length) throw new ArgumentException($"Axis {axis} is outside tensor {t}.", nameof(axis));
        if (positions.Any(p => p < 0 || p >= shape[axis]))
            throw new ArgumentException($"Positions of axis {axis} of {t} must be below {shape[axis]}.", nameof(positions));
        long outer = 1, inner = ElementTypes.ByteCount(t.ElementType, 1);
        for (int i = 0; i < axis; i++) outer *= shape[i];
        for (int i = axis + 1; i < shape.Length; i++) inner *= shape[i];
        var result = shape.ToArray();
        result[axis] = positions.Count;
        var src = t.RawData;
        var dst = new byte[checked(outer * positions.Count * inner)];
        int run = checked((int)inner);
        for (long o = 0; o < outer; o++)
            for (int j = 0; j < positions.Count; j++)
                Buffer.BlockCopy(src, checked((int)((o * shape[axis] + positions[j]) * inner)), dst, checked((int)((o * positions.Count + j) * inner)), run);
        return new Tensor(t.ElementType, result, dst);
    }

    /// <summary>Keeps, on every axis of <paramref name="cuts"/>, only its positions (ascending), in one pass and one
    /// allocation: equal to applying the single-axis <see cref="Keep(Tensor, int, IReadOnlyList{long})"/> once per axis.</summary>
    /// <exception cref="ArgumentException">An axis out of range or given twice, or positions not ascending or out of range.</exception>
    public static Tensor Keep(Tensor t, IReadOnlyList<(int Axis, long[] Kept)> cuts)
    {
        ArgumentNullException.ThrowIfNull(t);
        ArgumentNullException.ThrowIfNull(cuts);
        int rank = t.Rank;
        var shape = t.Shape.ToArray();
        var keptAt = new long[]?[rank];
        int last = -1;
        foreach (var (axis, kept) in cuts)
        {
            if (axis < 0 || axis >= rank) throw new ArgumentException($"Axis {axis} is outside tensor {t}.", nameof(cuts));
            if (keptAt[axis] is not null) throw new ArgumentException($"Axis {axis} is cut twice.", nameof(cuts));
            for (int i = 0; i < kept.Length; i++)
                if (kept[i] < 0 || kept[i] >= shape[axis] || i > 0 && kept[i] <= kept[i - 1])
                    throw new ArgumentException($"Kept positions of axis {axis} of {t} must be ascending and below {shape[axis]}.", nameof(cuts));
            keptAt[axis] = kept;
            last = Math.Max(last, axis);
        }
        if (last < 0) return new Tensor(t.ElementType, shape, (byte[])t.RawData.Clone());

        long es = ElementTypes.ByteCount(t.ElementType, 1);
        var stride = new long[rank]; // bytes per step of each axis
        long s = es;
        for (int i = rank - 1; i >= 0; i--) { stride[i] = s; s *= shape[i]; }
        var outShape = shape.ToArray();
        for (int i = 0; i < rank; i++) if (keptAt[i] is { } k) outShape[i] = k.Length;
        long outBytes = es * Tensor.CountElements(outShape);
        var dst = GC.AllocateUninitializedArray<byte>(checked((int)outBytes));
        if (outBytes == 0) return new Tensor(t.ElementType, outShape, dst);

        // Runs of consecutive kept positions on the last cut axis: each is one contiguous block of the source.
        var runs = Runs(keptAt[last]!);
        long block = stride[last];
        var src = t.RawData.AsSpan();
        var target = dst.AsSpan();
        long written = 0;
        var index = new int[last]; // odometer over the axes before the last cut: position within kept (or all) indices
        while (true)
        {
            long offset = 0;
            for (int i = 0; i < last; i++) offset += (keptAt[i] is { } k ? k[index[i]] : index[i]) * stride[i];
            foreach (var (start, count) in runs)
            {
                int bytes = checked((int)(count * block));
                src.Slice(checked((int)(offset + start * block)), bytes).CopyTo(target.Slice(checked((int)written), bytes));
                written += bytes;
            }
            int axis = last - 1;
            for (; axis >= 0; axis--)
            {
                if (++index[axis] < (keptAt[axis]?.Length ?? shape[axis])) break;
                index[axis] = 0;
            }
            if (axis < 0) break;
        }
        return new Tensor(t.ElementType, outShape, dst);
    }

    private static List<(long Start, long Count)> Runs(long[] kept)
    {
        var runs = new List<(long, long)>();
        for (int i = 0; i < kept.Length;)
        {
            int j = i + 1;
            while (j < kept.Length && kept[j] == kept[j - 1] + 1) j++;
            runs.Add((kept[i], j - i));
            i = j;
        }
        return runs;
    }

    /// <summary>Sets positions <paramref name="positions"/> along <paramref name="axis"/> to <paramref name="value"/> (0 or 1), in place.</summary>
    public static void Fill(Tensor t, int axis, IEnumerable<long> positions, double value)
    {
        var shape = t.Shape;
        long outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= shape[i];
        for (int i = axis + 1; i < shape.Count; i++) inner *= shape[i];
        long size = shape[axis];
        switch (t.ElementType)
        {
            case ElementType.Float: FillRuns(t.AsSpan<float>(), (float)value); break;
            case ElementType.Double: FillRuns(t.AsSpan<double>(), value); break;
            case ElementType.Float16: FillRuns(t.AsSpan<Half>(), (Half)value); break;
            case ElementType.BFloat16: FillRuns(MemoryMarshal.Cast<byte, ushort>(t.RawData.AsSpan()), (ushort)(BitConverter.SingleToUInt32Bits((float)value) >> 16)); break;
            default:
                if (value != 0) throw new UnsupportedElementTypeException($"Cannot fill a {t.ElementType} tensor with {value}.");
                long es = ElementTypes.ByteCount(t.ElementType, 1);
                FillRuns(t.RawData.AsSpan(), (byte)0, es);
                break;
        }

        // Each position owns 'outer' contiguous runs of 'inner' elements (of 'width' span items each).
        void FillRuns<T>(Span<T> data, T v, long width = 1)
        {
            int run = checked((int)(inner * width));
            foreach (var p in positions)
                for (long o = 0; o < outer; o++)
                    data.Slice(checked((int)((o * size + p) * inner * width)), run).Fill(v);
        }
    }
}
