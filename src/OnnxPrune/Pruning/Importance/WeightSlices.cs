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
    // float constants: their Tensor (read in place); other floating-point types: a float copy, made once.
    private readonly Dictionary<ConstantTensor, object> _cache = new(ReferenceEqualityComparer.Instance);

    /// <summary>One scored, floating-point constant slice of a group with its layout.</summary>
    internal sealed class Slice(ConstantSliceItem item, ConstantTensor constant, object storage, long outer, long axisLength, long inner)
    {
        /// <summary>The group item.</summary>
        public ConstantSliceItem Item { get; } = item;

        /// <summary>The sliced constant.</summary>
        public ConstantTensor Constant { get; } = constant;

        /// <summary>Outer extent (product of the dims before the axis).</summary>
        public long Outer { get; } = outer;

        /// <summary>Length of the sliced axis.</summary>
        public long AxisLength { get; } = axisLength;

        /// <summary>Inner extent (product of the dims after the axis).</summary>
        public long Inner { get; } = inner;

        /// <summary>The constant's elements as float: the tensor's own storage for float tensors (no copy).</summary>
        public ReadOnlySpan<float> Data => storage is float[] converted ? converted : ((OnnxPrune.Tensors.Tensor)storage).AsSpan<float>();

        /// <summary>Elements per axis position.</summary>
        public long ElementsPerPosition => Outer * Inner;

        /// <summary>The same layout over other per-element values of the constant (e.g. accumulated |w·∂L/∂w|).</summary>
        public Slice WithData(float[] data)
        {
            ArgumentNullException.ThrowIfNull(data);
            if (data.LongLength != Outer * AxisLength * Inner)
                throw new ArgumentException($"{data.Length} values for '{Constant.Name}', which has {Outer * AxisLength * Inner} elements.", nameof(data));
            return new Slice(Item, Constant, data, Outer, AxisLength, Inner);
        }

        /// <summary>Per axis position, the sum of |w| (<paramref name="squares"/> false) or of w² (true) over the
        /// position's elements.</summary>
        /// <remarks>Bandwidth-bound either way (<see cref="MagnitudeKernels"/>, which says why not TensorPrimitives
        /// here): when a position's contiguous runs are long (≥ <see cref="LongRun"/>),
        /// one reduction per run; when they are short (the input-channel axis of a conv weight:
        /// runs of k·k), each row of <c>axis · inner</c> elements is accumulated elementwise into a float buffer (one
        /// call per row), flushed to double every <see cref="FlushRows"/> rows and summed per position at the end,
        /// instead of a call per short run.</remarks>
        public double[] PerPosition(bool squares)
        {
            var result = new double[AxisLength];
            var data = Data;
            int inner = checked((int)Inner), rowLength = checked((int)(AxisLength * Inner));
            if (Inner >= LongRun)
            {
                for (long o = 0; o < Outer; o++)
                {
                    var row = data.Slice(checked((int)(o * rowLength)), rowLength);
                    for (int p = 0; p < result.Length; p++)
                    {
                        var run = row.Slice(p * inner, inner);
                        result[p] += squares ? MagnitudeKernels.SumOfSquares(run) : MagnitudeKernels.SumOfMagnitudes(run);
                    }
                }
                return result;
            }
            var sum = new float[rowLength];
            for (long o = 0; o < Outer; o++)
            {
                var row = data.Slice(checked((int)(o * rowLength)), rowLength);
                MagnitudeKernels.Accumulate(row, sum, squares);
                if ((o + 1) % FlushRows != 0 && o != Outer - 1) continue;
                for (int p = 0, i = 0; p < result.Length; p++)
                {
                    double s = 0;
                    for (int end = i + inner; i < end; i++) s += sum[i];
                    result[p] += s;
                }
                Array.Clear(sum);
            }
            return result;
        }

        /// <summary>Runs at least this long are reduced one call each.</summary>
        internal const int LongRun = 64;

        /// <summary>Rows summed in float before they are added to the double result.</summary>
        internal const int FlushRows = 64;

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

        /// <summary>Number of elements <see cref="CopyUnit"/> writes for <paramref name="unit"/>.</summary>
        public long UnitLength(long unit) => Positions(unit).LongCount() * ElementsPerPosition;

        /// <summary>Copies a unit's elements (all its positions, every outer run) to the start of
        /// <paramref name="destination"/>; returns the number written.</summary>
        public int CopyUnit(long unit, Span<float> destination)
        {
            var data = Data;
            int inner = checked((int)Inner), written = 0;
            foreach (var p in Positions(unit))
                for (long o = 0; o < Outer; o++)
                {
                    data.Slice(checked((int)((o * AxisLength + p) * Inner)), inner).CopyTo(destination[written..]);
                    written += inner;
                }
            return written;
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
        if (!_cache.TryGetValue(c, out var data))
        {
            var tensor = c.Data;
            _cache[c] = data = tensor.ElementType == ElementType.Float ? tensor : tensor.ToFloatArray();
        }
        return new Slice(item, c, data, outer, shape[item.Axis], inner);
    }

    private static void Scale(double[] scores, double divisor)
    {
        for (int i = 0; i < scores.Length; i++) scores[i] /= divisor;
    }

    /// <summary>Applies <paramref name="normalization"/> in place; <paramref name="elementsPerUnit"/> is used by
    /// <see cref="ScoreNormalization.ElementCount"/>, with <paramref name="rootOfCount"/> for L2-type scores.</summary>
    public static void Normalize(double[] scores, ScoreNormalization normalization, long elementsPerUnit, bool rootOfCount)
    {
        switch (normalization)
        {
            // One value per unit (thousands at most): plain loops, precompiled with the library, where TensorPrimitives'
            // generic kernels would be JIT-compiled in every prune process (see MagnitudeKernels).
            case ScoreNormalization.Mean:
                double total = 0;
                foreach (var x in scores) total += x;
                double mean = total / scores.Length;
                if (mean > 0) Scale(scores, mean);
                break;
            case ScoreNormalization.ElementCount:
                if (elementsPerUnit > 0) Scale(scores, rootOfCount ? Math.Sqrt(elementsPerUnit) : elementsPerUnit);
                break;
        }
    }
}
