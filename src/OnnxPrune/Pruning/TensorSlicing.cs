using OnnxPrune.Tensors;

namespace OnnxPrune.Pruning;

/// <summary>Layout-level edits of dense tensors of any element type (raw bytes; fp16 and bf16 included).</summary>
internal static class TensorSlicing
{
    /// <summary>Keeps only positions <paramref name="kept"/> (ascending) along <paramref name="axis"/>.</summary>
    public static Tensor Keep(Tensor t, int axis, IReadOnlyList<long> kept)
    {
        int es = checked((int)ElementTypes.ByteCount(t.ElementType, 1));
        var shape = t.Shape.ToArray();
        long outer = 1, inner = es;
        for (int i = 0; i < axis; i++) outer *= shape[i];
        for (int i = axis + 1; i < shape.Length; i++) inner *= shape[i];
        long size = shape[axis];
        var src = t.RawData;
        var dst = new byte[checked(outer * kept.Count * inner)];
        long d = 0;
        for (long o = 0; o < outer; o++)
            foreach (var k in kept)
            {
                Buffer.BlockCopy(src, checked((int)((o * size + k) * inner)), dst, checked((int)d), checked((int)inner));
                d += inner;
            }
        shape[axis] = kept.Count;
        return new Tensor(t.ElementType, shape, dst);
    }

    /// <summary>Sets positions <paramref name="positions"/> along <paramref name="axis"/> to <paramref name="value"/> (0 or 1), in place.</summary>
    public static void Fill(Tensor t, int axis, IEnumerable<long> positions, double value)
    {
        int es = checked((int)ElementTypes.ByteCount(t.ElementType, 1));
        var shape = t.Shape;
        long outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= shape[i];
        for (int i = axis + 1; i < shape.Count; i++) inner *= shape[i];
        long size = shape[axis];
        var one = new byte[es];
        switch (t.ElementType)
        {
            case ElementType.Float: BitConverter.TryWriteBytes(one, (float)value); break;
            case ElementType.Double: BitConverter.TryWriteBytes(one, value); break;
            case ElementType.Float16: BitConverter.TryWriteBytes(one, (Half)value); break;
            case ElementType.BFloat16: BitConverter.TryWriteBytes(one, (ushort)(BitConverter.SingleToUInt32Bits((float)value) >> 16)); break;
            default:
                if (value != 0) throw new UnsupportedElementTypeException($"Cannot fill a {t.ElementType} tensor with {value}.");
                break;
        }
        var data = t.RawData;
        foreach (var p in positions)
            for (long o = 0; o < outer; o++)
            {
                long start = (o * size + p) * inner * es;
                for (long j = 0; j < inner; j++) one.CopyTo(data, start + j * es);
            }
    }
}
