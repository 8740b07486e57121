using System.Numerics.Tensors;
using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Pruning.Importance;

/// <summary>
/// Reads the scored constant slices of a group: a tensor viewed as [outer, axis, inner], where position p of the
/// axis owns the <c>outer</c> contiguous runs <c>data[o·axis·inner + p·inner .. +inner)</c>.
/// </summary>
internal sealed class WeightSlices
{
    private readonly Dictionary<ConstantTensor, float[]> _cache = new(ReferenceEqualityComparer.Instance);

    /// <summary>One scored, floating-point constant slice of a group with its layout.</summary>
    internal sealed record Slice(ConstantSliceItem Item, ConstantTensor Constant, float[] Data, long Outer, long AxisLength, long Inner)
    {
        /// <summary>Elements per axis position.</summary>
        public long ElementsPerPosition => Outer * Inner;

        /// <summary>Reduces every axis position with <paramref name="reduce"/> (applied per contiguous run, results summed).</summary>
        public double[] PerPosition(Func<ReadOnlySpan<float>, float> reduce)
        {
            var result = new double[AxisLength];
            for (long o = 0; o < Outer; o++)
                for (long p = 0; p < AxisLength; p++)
                    result[p] += reduce(Data.AsSpan(checked((int)((o * AxisLength + p) * Inner)), checked((int)Inner)));
            return result;
        }

        /// <summary>Positions of a unit, validated against the axis length.</summary>
        public IEnumerable<long> Positions(long unit)
        {
            foreach (var p in Item.Map.Positions(unit))
            {
                if (p < 0 || p >= AxisLength)
                    throw new OnnxPruneException($"Group item '{Item}' maps unit {unit} to position {p}, outside axis {Item.Axis} of length {AxisLength}.");
                yield return p;
            }
        }

        /// <summary>Appends a unit's elements (all its positions, every outer run) to <paramref name="destination"/>.</summary>
        public void CopyUnit(long unit, List<float> destination)
        {
            foreach (var p in Positions(unit))
                for (long o = 0; o < Outer; o++)
                    destination.AddRange(Data.AsSpan(checked((int)((o * AxisLength + p) * Inner)), checked((int)Inner)));
        }
    }

    /// <summary>The scored floating-point constant slices of a group (items with <see cref="ConstantSliceItem.IsScored"/>).</summary>
    public IReadOnlyList<Slice> Scored(PruningGroup group) =>
        group.ConstantSlices.Where(i => i.IsScored).Select(Get).OfType<Slice>().ToArray();

    /// <summary>The slice for an item, or null when it is not a floating-point constant.</summary>
    public Slice? Get(ConstantSliceItem item)
    {
        if (item.Value.Constant is not { } c) return null;
        if (!ElementTypes.IsFloatingPoint(c.ElementType)) return null;
        var shape = c.Shape;
        if (item.Axis < 0 || item.Axis >= shape.Count)
            throw new OnnxPruneException($"Group item '{item}' slices axis {item.Axis} of {c.Name}, which has rank {shape.Count}.");
        long outer = 1, inner = 1;
        for (int d = 0; d < item.Axis; d++) outer *= shape[d];
        for (int d = item.Axis + 1; d < shape.Count; d++) inner *= shape[d];
        if (!_cache.TryGetValue(c, out var data)) _cache[c] = data = c.Data.ToFloatArray();
        return new Slice(item, c, data, outer, shape[item.Axis], inner);
    }

    /// <summary>Applies <paramref name="normalization"/> in place; <paramref name="elementsPerUnit"/> is used by
    /// <see cref="ScoreNormalization.ElementCount"/>, with <paramref name="rootOfCount"/> for L2-type scores.</summary>
    public static void Normalize(double[] scores, ScoreNormalization normalization, long elementsPerUnit, bool rootOfCount)
    {
        switch (normalization)
        {
            case ScoreNormalization.Mean:
                double mean = TensorPrimitives.Sum<double>(scores) / scores.Length;
                if (mean > 0) TensorPrimitives.Divide(scores, mean, scores);
                break;
            case ScoreNormalization.ElementCount:
                if (elementsPerUnit > 0) TensorPrimitives.Divide(scores, rootOfCount ? Math.Sqrt(elementsPerUnit) : elementsPerUnit, scores);
                break;
        }
    }
}
