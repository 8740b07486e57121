using OnnxPrune.Analysis.Rules;
using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Analysis;

/// <summary>
/// Static shape inference over the IR: element types and shapes (symbolic dims allowed) and, for small integer
/// tensors, the value and origin of each element (so that Shape→Gather→Concat→Reshape chains resolve).
/// Per-op logic lives in the op's <see cref="OpRule"/>; ops without a rule leave their outputs unknown.
/// </summary>
/// <remarks>Inference never modifies the graph; <see cref="ShapeInfo.WriteTo"/> copies the results into the values'
/// declared types when a caller wants that.</remarks>
public static class ShapeInference
{
    /// <summary>Infers types and shapes for every value of <paramref name="graph"/>.</summary>
    /// <param name="graph">The graph (not modified).</param>
    /// <param name="opset">The default-domain opset (attribute vs input forms); 0 = latest.</param>
    /// <param name="rules">Op rules; default <see cref="OpRuleRegistry.Default"/>.</param>
    /// <param name="bindings">Sizes substituted for symbolic dims of the graph inputs and declared values (concrete
    /// shapes); null keeps them symbolic.</param>
    public static ShapeInfo Infer(Graph.Graph graph, long opset = 0, OpRuleRegistry? rules = null, DimBindings? bindings = null) =>
        InferCore(graph, opset, rules, bindings, trustDeclaredIntermediates: true);

    /// <summary>Same; <paramref name="trustDeclaredIntermediates"/> false ignores the declared shapes of node outputs
    /// (value_info written for another batch size must not fill gaps when the inputs were given new shapes).</summary>
    internal static ShapeInfo InferCore(Graph.Graph graph, long opset, OpRuleRegistry? rules, DimBindings? bindings, bool trustDeclaredIntermediates)
    {
        ArgumentNullException.ThrowIfNull(graph);
        rules ??= OpRuleRegistry.Default;
        bindings ??= DimBindings.None;
        var infos = new Dictionary<Value, TensorInfo>();
        var ties = new List<DimTie>();
        foreach (var v in graph.Inputs)
            infos[v] = Declared(v, bindings, isDataInput: v.Initializer is null) ?? TensorInfo.Unknown;
        foreach (var c in graph.Initializers) infos[c.Value] = FromConstant(c);
        foreach (var node in GraphOrder.Topological(graph))
        {
            var ctx = new ShapeContext(node, infos, opset == 0 ? long.MaxValue : opset, ties);
            if (node.ConstantOutput is { } constant) infos[node.Output(0)!] = FromConstant(constant);
            else if (rules.Find(node) is { } rule)
            {
                try { rule.InferShapes(ctx); }
                catch (Exception e) when (e is OnnxPruneException or ArgumentException or InvalidOperationException or IndexOutOfRangeException or OverflowException or NotSupportedException)
                {
                    // A rule that cannot make sense of a node leaves its outputs unknown: inference never fails a model.
                }
            }
            foreach (var o in node.Outputs)
            {
                if (o is null) continue;
                infos[o] = Merge(infos.GetValueOrDefault(o), trustDeclaredIntermediates ? Declared(o, bindings, isDataInput: false) : null);
            }
        }
        return new ShapeInfo(infos, ties);
    }

    internal static TensorInfo FromConstant(ConstantTensor c)
    {
        var shape = c.Shape.Select(d => new Dim(d)).ToArray();
        IReadOnlyList<TrackedElement>? elements = null;
        if (c.ElementType is ElementType.Int64 or ElementType.Int32 && c.Shape.Count <= 1 && c.ElementCount <= TensorInfo.MaxTrackedElements)
        {
            var values = c.Data.ToInt64Array();
            elements = values.Select((x, i) => new TrackedElement(x, c.Value, i)).ToArray();
        }
        return new TensorInfo(c.ElementType, shape, elements);
    }

    private static TensorInfo? Declared(Value v, DimBindings bindings, bool isDataInput) =>
        v.HasType && v.ElementType != ElementType.Undefined ? new TensorInfo(v.ElementType, bindings.Resolve(v.Shape, isDataInput)) : null;

    // Inferred facts win per axis where known; declared ones fill the gaps (and the rank when inference has none).
    private static TensorInfo Merge(TensorInfo? inferred, TensorInfo? declared)
    {
        if (inferred is null) return declared ?? TensorInfo.Unknown;
        if (declared is null) return inferred;
        var type = inferred.ElementType != ElementType.Undefined ? inferred.ElementType : declared.ElementType;
        IReadOnlyList<Dim>? shape = inferred.Shape;
        if (shape is null) shape = declared.Shape;
        else if (declared.Shape is { } d && d.Count == shape.Count)
            shape = shape.Select((x, i) => x.IsKnown ? x : d[i].IsKnown || x.Param is null ? d[i] : x).ToArray();
        return inferred with { ElementType = type, Shape = shape };
    }
}

/// <summary>The result of <see cref="ShapeInference.Infer"/>: facts per value.</summary>
public sealed class ShapeInfo
{
    private readonly Dictionary<Value, TensorInfo> _infos;

    internal ShapeInfo(Dictionary<Value, TensorInfo> infos, IReadOnlyList<DimTie>? ties = null)
    {
        _infos = infos;
        Ties = ties ?? [];
    }

    /// <summary>Pairs of sizes (at least one symbolic) that ops need equal, or one of them 1 where they broadcast: the
    /// relations between a model's symbolic dims (<see cref="DimTies"/> picks input sizes that satisfy them).</summary>
    public IReadOnlyList<DimTie> Ties { get; }

    /// <summary>What is known about <paramref name="value"/> (never null; <see cref="TensorInfo.Unknown"/> when nothing).</summary>
    public TensorInfo this[Value value] => _infos.GetValueOrDefault(value) ?? TensorInfo.Unknown;

    /// <summary>Every value with facts.</summary>
    public IEnumerable<KeyValuePair<Value, TensorInfo>> All => _infos;

    /// <summary>Writes inferred element types and shapes into values that have no declared type (not graph inputs,
    /// initializers or Constant outputs); returns how many values were filled.</summary>
    public int WriteTo(Graph.Graph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        int filled = 0;
        foreach (var node in graph.Nodes)
        {
            if (node.ConstantOutput is not null) continue;
            foreach (var o in node.Outputs)
            {
                if (o is null || o.HasType || !_infos.TryGetValue(o, out var info) || info.ElementType == ElementType.Undefined) continue;
                o.SetTensorType(info.ElementType, info.Shape);
                filled++;
            }
        }
        return filled;
    }
}

/// <summary>Node orders that do not modify the graph.</summary>
internal static class GraphOrder
{
    /// <summary>Nodes in a topological order (stable with respect to the stored order).</summary>
    public static IReadOnlyList<Node> Topological(Graph.Graph graph)
    {
        var nodes = graph.Nodes;
        var index = new Dictionary<Node, int>();
        for (int i = 0; i < nodes.Count; i++) index[nodes[i]] = i;
        var indegree = new int[nodes.Count];
        var next = new List<int>?[nodes.Count];
        for (int i = 0; i < nodes.Count; i++)
            foreach (var v in nodes[i].Inputs.Concat(nodes[i].ImplicitInputs))
                if (v?.Producer is { } p && index.TryGetValue(p, out var pi)) { (next[pi] ??= new()).Add(i); indegree[i]++; }
        var ready = new PriorityQueue<int, int>();
        for (int i = 0; i < nodes.Count; i++) if (indegree[i] == 0) ready.Enqueue(i, i);
        var order = new List<Node>(nodes.Count);
        while (ready.TryDequeue(out var n, out _))
        {
            order.Add(nodes[n]);
            if (next[n] is null) continue;
            foreach (var s in next[n]!) if (--indegree[s] == 0) ready.Enqueue(s, s);
        }
        if (order.Count != nodes.Count) throw new OnnxFormatException($"Graph '{graph.Name}' has a cycle.");
        return order;
    }
}
