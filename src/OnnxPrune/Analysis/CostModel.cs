using OnnxPrune.Analysis.Rules;
using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Analysis;

/// <summary>A cost measure a budget can target.</summary>
public enum CostMetric
{
    /// <summary>Element count of floating-point constant tensors.</summary>
    Parameters,
    /// <summary>Multiply-accumulates of the ops whose rule counts them (<see cref="OpRule.Macs"/>: Conv, ConvTranspose,
    /// Gemm, MatMul) for one inference at the given dims.</summary>
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

    /// <summary>Concrete shapes that override the shape engine's (e.g. measured on ONNX Runtime); return null for
    /// values it does not know.</summary>
    public Func<Value, long[]?>? Shapes { get; init; }

    /// <summary>The analysis stage's shape facts (<see cref="DependencyAnalysis.Shapes"/>) to reuse: their symbolic dims
    /// are resolved through <see cref="Dims"/>/<see cref="Batch"/>; values they leave unresolved are inferred again
    /// with the dims substituted. Null: inferred here.</summary>
    public ShapeInfo? AnalysisShapes { get; init; }

    /// <summary>Op rules that infer shapes and count MACs (use the analysis's registry so a custom rule applies to
    /// costs too); default <see cref="OpRuleRegistry.Default"/>.</summary>
    public OpRuleRegistry? Rules { get; init; }
}

/// <summary>
/// Our own counter of parameters, weight bytes and MACs, and of the marginal cost of a group's unit; it also
/// predicts the cost after a hypothetical pruning without doing the surgery.
/// </summary>
/// <remarks>
/// MACs (one multiply-accumulate = one multiply + one add), for one inference at the resolved input dims, come from each
/// op's rule (<see cref="OpRule.Macs"/>): Conv <c>numel(Y)·(C_in/group)·∏k</c> (= numel(Y)·∏W.shape[1:], so depthwise is
/// numel(Y)·∏k); ConvTranspose <c>numel(X)·(C_out/group)·∏k</c>; Gemm <c>M·N·K</c>; MatMul <c>numel(Y)·K</c> (batched,
/// broadcast). Bias adds, activations, normalisation and pooling are not counted (the usual convention; they are &lt;2%
/// of a CNN). Shapes come from the one shape engine (<see cref="ShapeInference"/>, the same rules as the analysis) with
/// the symbolic dims of <see cref="CostOptions"/> substituted, reusing <see cref="CostOptions.AnalysisShapes"/> where
/// they resolve; a counted op whose shapes stay unknown is listed in <see cref="UncountedNodes"/>.
/// <para>Prediction (<see cref="Estimate"/>): parameters and bytes are exact given the groups' items. MACs scale each
/// counted node by the kept fraction of every sliced axis of its weight constants (<see cref="OpRule.MacWeightInputs"/>,
/// reached directly or through <see cref="ReorderOnly"/> ops), which is exact for Conv, Gemm and MatMul whose weights
/// are constants; MatMuls between two activations (attention scores) are not rescaled.</para>
/// </remarks>
public sealed class CostModel
{
    private readonly Dictionary<Node, long> _macs = new(ReferenceEqualityComparer.Instance);
    private readonly List<ConstantTensor> _constants;
    private readonly List<Node> _uncounted = new();
    private readonly OpRuleRegistry _rules;
    private readonly Func<Value?, long[]?> _shapeOf;

    private CostModel(OnnxModel model, CostOptions options, CancellationToken cancellationToken)
    {
        var graph = model.Graph;
        _rules = options.Rules ?? OpRuleRegistry.Default;
        _constants = graph.Constants.Where(c => ElementTypes.IsFloatingPoint(c.ElementType)).ToList();
        var shapeOf = _shapeOf = ConcreteShapes(model, options, _rules);
        MissingDims = Missing(graph, options);
        long parameters = 0, bytes = 0, macs = 0;
        foreach (var c in _constants)
        {
            parameters += c.ElementCount;
            bytes += ElementTypes.ByteCount(c.ElementType, c.ElementCount);
        }
        foreach (var node in graph.Nodes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_rules.Find(node) is not { CountsMacs: true } rule) continue;
            if (rule.Macs(new MacContext(node, shapeOf)) is long m) { _macs[node] = m; macs += m; }
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

    /// <summary>Counts a model with the shapes and op rules of its dependency analysis (a custom rule registry
    /// applies to costs too; the shapes are not inferred again where the dims resolve them).</summary>
    public static CostModel Of(OnnxModel model, DependencyAnalysis analysis, CostOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(analysis);
        return new CostModel(model, (options ?? new CostOptions()) with { AnalysisShapes = analysis.Shapes, Rules = analysis.Rules }, cancellationToken);
    }

    /// <summary>The model's totals (MACs over <see cref="NodeMacs"/> only).</summary>
    public ModelCost Total { get; }

    /// <summary>MACs of each counted node.</summary>
    public IReadOnlyDictionary<Node, long> NodeMacs => _macs;

    /// <summary>Nodes whose rule counts MACs but whose shapes could not be resolved (their MACs are missing from the total).</summary>
    public IReadOnlyList<Node> UncountedNodes => _uncounted;

    /// <summary>Symbolic input dims that were needed but not given (pass them as <see cref="CostOptions.Dims"/>).</summary>
    public IReadOnlyList<string> MissingDims { get; }

    /// <summary>True when every MAC op was counted.</summary>
    public bool MacsComplete => _uncounted.Count == 0;

    /// <summary>MACs of one node from concrete input/output shapes (its rule's <see cref="OpRule.Macs"/> in the default
    /// registry), or null when a shape is unknown or the op is not counted.</summary>
    public static long? MacsOf(Node node, Func<Value?, long[]?> shapeOf)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(shapeOf);
        return OpRuleRegistry.Default.Find(node)?.Macs(new MacContext(node, shapeOf));
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
        kept = kept.ToList();
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
        // Nodes that read no weight (attention's Q·Kᵀ, scores·V) are counted again on their shrunken activation shapes.
        var shrunk = new Dictionary<Value, Dictionary<int, long>>();
        foreach (var (group, k) in kept)
        {
            long units = group.Size - k;
            if (units <= 0) continue;
            foreach (var item in group.ActivationDims)
            {
                if (!shrunk.TryGetValue(item.Value, out var axes)) shrunk[item.Value] = axes = new Dictionary<int, long>();
                axes[item.Axis] = axes.GetValueOrDefault(item.Axis) + units * item.Map.PositionsPerUnit;
            }
        }
        if (shrunk.Count > 0)
            foreach (var (node, m) in _macs)
            {
                if (macFactor.ContainsKey(node) || !node.Inputs.Any(v => v is not null && shrunk.ContainsKey(v))) continue;
                if (node.Inputs.Any(v => v is not null && IsWeight(v))) continue;
                long[]? Shrunk(Value? v)
                {
                    if (_shapeOf(v) is not { } shape) return null;
                    if (v is null || !shrunk.TryGetValue(v, out var axes)) return shape;
                    var copy = (long[])shape.Clone();
                    foreach (var (axis, r) in axes) if (axis < copy.Length) copy[axis] = Math.Max(0, copy[axis] - r);
                    return copy;
                }
                if (_rules.Find(node)!.Macs(new MacContext(node, Shrunk)) is long after) macs -= m - after;
            }
        return new ModelCost(parameters, bytes, (long)Math.Round(macs));
    }

    // Concrete shapes: an explicit override, else the analysis's facts with the dims substituted, else one inference
    // with the dims substituted into the inputs (same rules), computed only when needed.
    private static Func<Value?, long[]?> ConcreteShapes(OnnxModel model, CostOptions options, OpRuleRegistry rules)
    {
        var graph = model.Graph;
        var bindings = Bindings(graph, options);
        ShapeInfo? substituted = null;
        var analysis = options.AnalysisShapes;
        return v =>
        {
            if (v is null) return null;
            if (options.Shapes?.Invoke(v) is { } given) return given;
            if (analysis is not null && bindings.Concrete(analysis[v].Shape) is { } reused) return reused;
            substituted ??= ShapeInference.Infer(graph, model.GetOpset(""), rules, bindings);
            return bindings.Concrete(substituted[v].Shape);
        };
    }

    // The dims map, plus a data input's symbolic first dim (the batch) bound to the batch.
    private static DimBindings Bindings(Graph.Graph graph, CostOptions options)
    {
        var symbols = new Dictionary<string, long>(options.Dims, StringComparer.Ordinal);
        foreach (var input in graph.DataInputs)
            if (input.Shape is [{ Param: { } batch }, ..]) symbols.TryAdd(batch, options.Batch);
        return new DimBindings(symbols, options.Batch);
    }

    // Symbolic (or unnamed unknown) dims of data inputs that no binding resolves; a first dim is the batch.
    private static string[] Missing(Graph.Graph graph, CostOptions options)
    {
        var missing = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var input in graph.DataInputs)
        {
            if (!input.HasType || input.Shape is not { } shape) continue;
            for (int i = 1; i < shape.Count; i++)
                if (!shape[i].IsKnown && !(shape[i].Param is { Length: > 0 } p && options.Dims.ContainsKey(p)))
                    missing.Add(string.IsNullOrWhiteSpace(shape[i].Param) ? $"{input.Name}[{i}]" : shape[i].Param!);
        }
        return missing.ToArray();
    }

    // A value that is a constant or is computed from constants only through reorder-only ops (a weight operand).
    private static bool IsWeight(Value v)
    {
        for (var cur = v; cur is not null;)
        {
            if (cur.Constant is not null) return true;
            if (cur.Producer is not { } p || !ReorderOnly.OpTypes.Contains(p.OpType)) return false;
            cur = p.Input(0);
        }
        return false;
    }

    // Counted nodes that read the constant as a weight operand (their rule's MacWeightInputs), directly or through
    // reorder-only ops (e.g. CNTK's MatMul weight, a Reshape of a [16,4,4,10] constant). Their MACs are proportional
    // to the element count of a weight operand, so a kept fraction of the constant's elements is the kept fraction of
    // the node's MACs.
    private IEnumerable<Node> WeightReaders(Value constant) =>
        ReorderOnly.UsesThrough(constant)
            .Where(u => u.Consumer is { } n && _macs.ContainsKey(n) && _rules.Find(n)!.MacWeightInputs.Contains(u.InputIndex))
            .Select(u => u.Consumer!)
            .Distinct();
}
