using OnnxPrune.Pruning;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Pruning;

/// <summary>TensorSlicing against element-by-element references: multi-axis cuts in one pass equal the naive gather
/// (and the single-axis cuts applied in turn), for several element sizes and kept patterns; Fill sets exactly the
/// positions given.</summary>
public class TensorSlicingTests
{
    private static readonly long[] Shape = [6, 5, 3, 4];

    // Naive reference: output element by output element, each read from its source index.
    private static byte[] Reference(Tensor t, IReadOnlyList<long>?[] kept)
    {
        int es = (int)ElementTypes.ByteCount(t.ElementType, 1);
        var dims = t.Shape.ToArray();
        var outDims = dims.Select((d, i) => kept[i]?.Count ?? d).ToArray();
        var result = new List<byte>();
        var index = new long[dims.Length];
        long total = outDims.Aggregate(1L, (a, b) => a * b);
        for (long flat = 0; flat < total; flat++)
        {
            long rest = flat, source = 0, stride = 1;
            for (int i = dims.Length - 1; i >= 0; i--) { index[i] = rest % outDims[i]; rest /= outDims[i]; }
            for (int i = dims.Length - 1; i >= 0; i--)
            {
                source += (kept[i] is { } k ? k[(int)index[i]] : index[i]) * stride;
                stride *= dims[i];
            }
            result.AddRange(t.RawData.AsSpan((int)(source * es), es).ToArray());
        }
        return result.ToArray();
    }

    private static Tensor RandomTensor(ElementType type, int seed)
    {
        var rng = new Random(seed);
        var t = Tensor.Zeros(type, Shape);
        rng.NextBytes(t.RawData);
        return t;
    }

    private static long[] RandomKept(Random rng, long size)
    {
        var kept = Enumerable.Range(0, (int)size).Where(_ => rng.Next(3) > 0).Select(i => (long)i).ToArray();
        return kept.Length > 0 ? kept : [rng.Next((int)size)];
    }

    [TestCase(ElementType.Float)]
    [TestCase(ElementType.Float16)]
    [TestCase(ElementType.Double)]
    [TestCase(ElementType.Int8)]
    public void MultiAxisKeepEqualsTheElementwiseGatherAndTheSingleAxisCuts(ElementType type)
    {
        for (int seed = 0; seed < 40; seed++)
        {
            var rng = new Random(seed);
            var t = RandomTensor(type, seed);
            var kept = new IReadOnlyList<long>?[Shape.Length];
            var cuts = new List<(int, long[])>();
            foreach (var axis in Enumerable.Range(0, Shape.Length).Where(_ => rng.Next(2) == 0).DefaultIfEmpty(rng.Next(Shape.Length)))
            {
                kept[axis] = RandomKept(rng, Shape[axis]);
                cuts.Add((axis, (long[])kept[axis]!));
            }
            var cut = TensorSlicing.Keep(t, cuts);
            Assert.That(cut.Shape, Is.EqualTo(Shape.Select((d, i) => (long)(kept[i]?.Count ?? d)).ToArray()), $"seed {seed}");
            Assert.That(cut.RawData, Is.EqualTo(Reference(t, kept)), $"seed {seed}: axes {string.Join(",", cuts.Select(c => c.Item1))}");
            var oneByOne = t;
            foreach (var (axis, k) in cuts) oneByOne = TensorSlicing.Keep(oneByOne, axis, k);
            Assert.That(cut.RawData, Is.EqualTo(oneByOne.RawData), $"seed {seed}");
        }
    }

    [Test]
    public void KeepRejectsUnsortedDuplicateOrOutOfRangePositions()
    {
        var t = RandomTensor(ElementType.Float, 1);
        Assert.Throws<ArgumentException>(() => TensorSlicing.Keep(t, 0, [2, 1]));
        Assert.Throws<ArgumentException>(() => TensorSlicing.Keep(t, 0, [1, 1]));
        Assert.Throws<ArgumentException>(() => TensorSlicing.Keep(t, 0, [6]));
        Assert.Throws<ArgumentException>(() => TensorSlicing.Keep(t, 4, [0]));
        Assert.Throws<ArgumentException>(() => TensorSlicing.Keep(t, [(1, new long[] { 0 }), (1, new long[] { 1 })]));
    }

    [TestCase(ElementType.Float, 1.0)]
    [TestCase(ElementType.Float16, 1.0)]
    [TestCase(ElementType.BFloat16, 1.0)]
    [TestCase(ElementType.Double, 0.0)]
    [TestCase(ElementType.Int32, 0.0)]
    public void FillSetsExactlyThePositionsGiven(ElementType type, double value)
    {
        var t = RandomTensor(type, 7);
        var before = (byte[])t.RawData.Clone();
        long[] positions = [0, 2];
        TensorSlicing.Fill(t, 1, positions, value);
        int es = (int)ElementTypes.ByteCount(type, 1);
        var one = type switch
        {
            ElementType.Float => BitConverter.GetBytes((float)value),
            ElementType.Float16 => BitConverter.GetBytes((Half)value),
            ElementType.BFloat16 => BitConverter.GetBytes((ushort)(BitConverter.SingleToUInt32Bits((float)value) >> 16)),
            ElementType.Double => BitConverter.GetBytes(value),
            _ => new byte[es],
        };
        long inner = Shape[2] * Shape[3];
        for (long flat = 0; flat < t.ElementCount; flat++)
        {
            long axisIndex = flat / inner % Shape[1];
            var expected = positions.Contains(axisIndex) ? one : before.AsSpan((int)(flat * es), es).ToArray();
            Assert.That(t.RawData.AsSpan((int)(flat * es), es).ToArray(), Is.EqualTo(expected), $"element {flat}");
        }
    }

    [TestCase(0), TestCase(1), TestCase(2)]
    public void TakeGathersPositionsInTheOrderGiven(int axis)
    {
        var rng = new Random(axis + 11);
        long[] shape = [3, 4, 5];
        var values = Enumerable.Range(0, 60).Select(_ => rng.NextSingle()).ToArray();
        var t = Tensor.FromArray<float>(values, shape);
        long[] take = axis switch { 0 => [2, 0, 2], 1 => [3, 1], _ => [4, 0, 2, 1] };
        var r = TensorSlicing.Take(t, axis, take);
        var expectedShape = shape.ToArray();
        expectedShape[axis] = take.Length;
        Assert.That(r.Shape, Is.EqualTo(expectedShape));
        var got = r.AsSpan<float>().ToArray();
        int k = 0;
        for (long a = 0; a < expectedShape[0]; a++)
            for (long b = 0; b < expectedShape[1]; b++)
                for (long c = 0; c < expectedShape[2]; c++)
                {
                    long[] src = [a, b, c];
                    src[axis] = take[src[axis]];
                    Assert.That(got[k++], Is.EqualTo(values[(src[0] * 4 + src[1]) * 5 + src[2]]), $"[{a},{b},{c}]");
                }
        Assert.Throws<ArgumentException>(() => TensorSlicing.Take(t, axis, [shape[axis]]));
    }
}
