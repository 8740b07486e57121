using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Analysis;

/// <summary>A cost measure a budget can target.</summary>
public enum CostMetric
{
    /// <summary>Element count of floating-point constant tensors.</summary>
    Parameters,
    /// <summary>Multiply-accumulates of Conv, ConvTranspose, Gemm and MatMul for one inference at the given dims.</summary>
    Macs,
    /// <summary>Bytes of floating-point constant tensors, by element type (a device's weight memory).</summary>
    WeightBytes,
}

/// <summary>A model's size and compute.</summary>
/// <param name="Parameters">Element count of floating-point constants (initializers and Constant nodes).</param>
/// <param name="WeightBytes">Bytes of those constants.</param>
/// <param name="Macs">Multiply-accumulates of the counted ops (see <see cref="CostModel"/>).</param>
public readonly record struct ModelCost(long Parameters, long WeightBytes, long Macs)
{
    /// <summary>The value of one metric.</summary>
    public long Get(CostMetric metric) => metric switch
    {
        CostMetric.Parameters => Parameters,
        CostMetric.Macs => Macs,
        CostMetric.WeightBytes => WeightBytes,
        _ => throw new ArgumentOutOfRangeException(nameof(metric)),
    };
}

/// <summary>What removing one unit of a group saves (first-order: other groups unchanged).</summary>
/// <param name="Parameters">Parameters removed per unit.</param>
/// <param name="WeightBytes">Weight bytes removed per unit.</param>
/// <param name="Macs">MACs removed per unit.</param>
public readonly record struct UnitCost(double Parameters, double WeightBytes, double Macs)
{
    /// <summary>The value of one metric.</summary>
    public double Get(CostMetric metric) => metric switch
    {
        CostMetric.Parameters => Parameters,
        CostMetric.Macs => Macs,
        CostMetric.WeightBytes => WeightBytes,
        _ => throw new ArgumentOutOfRangeException(nameof(metric)),
    };
}

/// <summary>Concrete values for symbolic input dims, for MAC counting.</summary>
public sealed record CostOptions
{
    /// <summary>Symbolic dim name → value (e.g. "height" → 640). Names not given make MACs of the nodes that need them unknown.</summary>
    public IReadOnlyDictionary<string, long> Dims { get; init; } = new Dictionary<string, long>();

    /// <summary>The first dim of a data input when it is symbolic and not in <see cref="Dims"/> (default 1).</summary>
    public long Batch { get; init; } = 1;

    /// <summary>Concrete shapes from a shape inference (e.g. the analysis stage's), consulted before declared shapes
    /// and the built-in propagation; return null for values it does not know.</summary>
    public Func<Value, long[]?>? Shapes { get; init; }
}

/// <summary>
/// Our own counter of parameters, weight bytes and MACs, and of the marginal cost of a group's unit; it also
/// predicts the cost after a hypothetical pruning without doing the surgery.
/// </summary>
/// <remarks>
/// MACs (one multiply-accumulate = one multiply + one add), for one inference at the resolved input dims:
/// Conv <c>numel(Y)·(C_in/group)·∏k</c> (= numel(Y)·∏W.shape[1:], so depthwise is numel(Y)·∏k);
/// ConvTranspose <c>numel(X)·(C_out/group)·∏k</c>; Gemm <c>M·N·K</c>; MatMul <c>numel(Y)·K</c> (batched, broadcast).
/// Bias adds, activations, normalisation and pooling are not counted (the usual convention; they are &lt;2% of a CNN).
/// Shapes come from the analysis stage's <see cref="ShapeInference"/> where fully known, else from declared value
/// shapes (symbolic dims resolved through <see cref="CostOptions"/>), else from a small built-in propagation; a MAC op whose shapes stay unknown is listed in <see cref="UncountedNodes"/>.
/// <para>Prediction (<see cref="Estimate"/>): parameters and bytes are exact given the groups' items. MACs scale each
/// counted node by the kept fraction of every sliced axis of its weight constants, which is exact for Conv, Gemm and
/// MatMul whose weights are constants; MatMuls between two activations (attention scores) are not rescaled.</para>
/// </remarks>
public sealed class CostModel
{
    private static readonly HashSet<string> MacOps = new(StringComparer.Ordinal) { "Conv", "ConvTranspose", "Gemm", "MatMul" };
    private readonly Dictionary<Node, long> _macs = new(ReferenceEqualityComparer.Instance);
    private readonly List<ConstantTensor> _constants;
    private readonly List<Node> _uncounted = new();

    private CostModel(OnnxModel model, CostOptions options, CancellationToken cancellationToken)
    {
        var graph = model.Graph;
        _constants = graph.Constants.Where(c => ElementTypes.IsFloatingPoint(c.ElementType)).ToList();
        var shapes = new ConcreteShapes(graph, options.Dims, options.Batch, options.Shapes ?? InferredShapes(model, options));
        MissingDims = shapes.MissingDims.ToArray();
        long parameters = 0, bytes = 0, macs = 0;
        foreach (var c in _constants)
        {
            parameters += c.ElementCount;
            bytes += ElementTypes.ByteCount(c.ElementType, c.ElementCount);
        }
        foreach (var node in graph.Nodes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!node.IsStandard || !MacOps.Contains(node.OpType)) continue;
            if (MacsOf(node, shapes.Of) is long m) { _macs[node] = m; macs += m; }
            else _uncounted.Add(node);
        }
        Total = new ModelCost(parameters, bytes, macs);
    }

    /// <summary>Counts a model.</summary>
    public static CostModel Of(OnnxModel model, CostOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new CostModel(model, options ?? new CostOptions(), cancellationToken);
    }

    /// <summary>The model's totals (MACs over <see cref="NodeMacs"/> only).</summary>
    public ModelCost Total { get; }

    /// <summary>MACs of each counted node.</summary>
    public IReadOnlyDictionary<Node, long> NodeMacs => _macs;

    /// <summary>Conv/ConvTranspose/Gemm/MatMul nodes whose shapes could not be resolved (their MACs are missing from the total).</summary>
    public IReadOnlyList<Node> UncountedNodes => _uncounted;

    /// <summary>Symbolic input dims that were needed but not given (pass them as <see cref="CostOptions.Dims"/>).</summary>
    public IReadOnlyList<string> MissingDims { get; }

    /// <summary>True when every MAC op was counted.</summary>
    public bool MacsComplete => _uncounted.Count == 0;

    /// <summary>MACs of one node from concrete input/output shapes, or null when a shape is unknown or the op is not counted.</summary>
    public static long? MacsOf(Node node, Func<Value?, long[]?> shapeOf)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(shapeOf);
        var x = shapeOf(node.Input(0));
        var w = shapeOf(node.Input(1));
        switch (node.OpType)
        {
            case "Conv":
                return shapeOf(node.Output(0)) is { } y && w is not null ? checked(Product(y) * Product(w.AsSpan(1))) : null;
            case "ConvTranspose":
                return x is not null && w is not null ? checked(Product(x) * Product(w.AsSpan(1))) : null;
            case "Gemm":
                if (x is not { Length: 2 } || w is not { Length: 2 }) return null;
                bool ta = node.Attributes.GetInt("transA", 0) != 0, tb = node.Attributes.GetInt("transB", 0) != 0;
                return checked((ta ? x[1] : x[0]) * (ta ? x[0] : x[1]) * (tb ? w[0] : w[1]));
            case "MatMul":
                // K from A's last dim, or from B (its second-to-last dim; its only dim when 1-D).
                long? k = x is { Length: > 0 } ? x[^1] : w is { Length: >= 2 } ? w[^2] : w is { Length: 1 } ? w[0] : null;
                return shapeOf(node.Output(0)) is { } out2 && k is long kk ? checked(Product(out2) * kk) : null;
            default:
                return null;
        }
    }

    /// <summary>The first-order saving of removing one unit of <paramref name="group"/>: element counts of its
    /// constant slices per unit, and for every counted node reading a sliced weight, the node's MACs divided by the
    /// sliced axis length, times the positions per unit.</summary>
    public UnitCost PerUnit(PruningGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        double parameters = 0, bytes = 0, macs = 0;
        foreach (var item in group.ConstantSlices)
        {
            if (item.Value?.Constant is not { } c || !ElementTypes.IsFloatingPoint(c.ElementType)) continue;
            long axisLength = c.Shape[item.Axis];
            if (axisLength == 0) continue;
            double perPosition = (double)c.ElementCount / axisLength * item.Map.PositionsPerUnit;
            parameters += perPosition;
            bytes += perPosition * ElementTypes.ByteCount(c.ElementType, 1024) / 1024.0;
            foreach (var node in WeightReaders(c.Value))
                macs += (double)_macs[node] / axisLength * item.Map.PositionsPerUnit;
        }
        return new UnitCost(parameters, bytes, macs);
    }

    /// <summary>Predicts the cost after keeping <c>kept</c> units of each listed group (others unchanged).</summary>
    public ModelCost Estimate(IEnumerable<(PruningGroup Group, long Kept)> kept)
    {
        ArgumentNullException.ThrowIfNull(kept);
        // (constant, axis) → positions removed
        var removed = new Dictionary<ConstantTensor, Dictionary<int, long>>(ReferenceEqualityComparer.Instance);
        foreach (var (group, k) in kept)
        {
            long units = group.Size - k;
            if (units <= 0) continue;
            foreach (var item in group.ConstantSlices)
            {
                if (item.Value?.Constant is not { } c) continue;
                if (!removed.TryGetValue(c, out var axes)) removed[c] = axes = new Dictionary<int, long>();
                axes[item.Axis] = axes.GetValueOrDefault(item.Axis) + units * item.Map.PositionsPerUnit;
            }
        }
        long parameters = Total.Parameters, bytes = Total.WeightBytes;
        var macFactor = new Dictionary<Node, double>(ReferenceEqualityComparer.Instance);
        foreach (var (c, axes) in removed)
        {
            var shape = c.Shape;
            long after = 1;
            double fraction = 1;
            for (int d = 0; d < shape.Count; d++)
            {
                long r = Math.Min(axes.GetValueOrDefault(d), shape[d]);
                after = checked(after * (shape[d] - r));
                if (shape[d] > 0) fraction *= (double)(shape[d] - r) / shape[d];
            }
            if (ElementTypes.IsFloatingPoint(c.ElementType))
            {
                parameters -= c.ElementCount - after;
                bytes -= ElementTypes.ByteCount(c.ElementType, c.ElementCount) - ElementTypes.ByteCount(c.ElementType, after);
            }
            foreach (var node in WeightReaders(c.Value))
                macFactor[node] = macFactor.GetValueOrDefault(node, 1.0) * fraction;
        }
        double macs = Total.Macs;
        foreach (var (node, f) in macFactor) macs -= _macs[node] * (1 - f);
        return new ModelCost(parameters, bytes, (long)Math.Round(macs));
    }

    // The analysis stage's shape inference, where it gives fully known shapes (symbolic dims fall back to declared
    // shapes resolved through the dims map and the built-in propagation).
    private static Func<Value, long[]?> InferredShapes(OnnxModel model, CostOptions options)
    {
        var info = ShapeInference.Infer(model.Graph, model.GetOpset());
        // Symbolic dims resolve through the dims map; a data input's symbolic first dim (the batch) is the batch.
        var symbols = new Dictionary<string, long>(options.Dims, StringComparer.Ordinal);
        foreach (var input in model.Graph.DataInputs)
            if (input.Shape is [{ Param: { } batch }, ..]) symbols.TryAdd(batch, options.Batch);
        long? Resolve(Dim d) => d.Value ?? (d.Param is { } p && symbols.TryGetValue(p, out var v) ? v : null);
        return v =>
        {
            if (info[v].Shape is not { } s) return null;
            var result = new long[s.Count];
            for (int i = 0; i < s.Count; i++)
                if (Resolve(s[i]) is long d) result[i] = d; else return null;
            return result;
        };
    }

    // Ops that only re-lay out a tensor's elements: a weight reached through them keeps MACs ∝ its element count.
    private static readonly HashSet<string> LayoutOps = new(StringComparer.Ordinal)
    {
        "Reshape", "Transpose", "Identity", "Cast", "Squeeze", "Unsqueeze", "Flatten", "DequantizeLinear",
    };

    // Counted nodes that read the constant as a weight operand (Conv/ConvTranspose input 1, Gemm/MatMul input 0 or 1),
    // directly or through layout-only ops (e.g. CNTK's MatMul weight, a Reshape of a [16,4,4,10] constant). The MACs of
    // Conv, ConvTranspose, Gemm and MatMul are proportional to the element count of a weight operand, so a kept
    // fraction of the constant's elements is the kept fraction of the node's MACs.
    private IEnumerable<Node> WeightReaders(Value constant)
    {
        var seen = new HashSet<Value>(ReferenceEqualityComparer.Instance) { constant };
        var pending = new Queue<Value>([constant]);
        while (pending.Count > 0)
        {
            var v = pending.Dequeue();
            foreach (var n in v.Consumers.Distinct())
            {
                if (_macs.ContainsKey(n) && (n.Input(1) == v || (n.OpType is "Gemm" or "MatMul" && n.Input(0) == v))) yield return n;
                else if (n.IsStandard && LayoutOps.Contains(n.OpType) && n.Input(0) == v && n.Output(0) is { } o && seen.Add(o)) pending.Enqueue(o);
            }
        }
    }

    private static long Product(ReadOnlySpan<long> dims)
    {
        long p = 1;
        foreach (var d in dims) p = checked(p * d);
        return p;
    }
}
