using OnnxPrune.Onnx.Proto;
using OnnxPrune.Tensors;

namespace OnnxPrune.Onnx;

/// <summary>
/// Structural checks that every later stage relies on: a graph exists; value names are defined once; every
/// node input and graph output is defined (in this graph or an enclosing one); nodes form no cycle; tensor
/// data matches its type and dims. Op semantics are not checked (ONNX Runtime does that).
/// </summary>
public static class ModelValidator
{
    /// <summary>Throws <see cref="OnnxFormatException"/> naming <paramref name="source"/>, the graph, node and problem.</summary>
    public static void Validate(ModelProto model, string source)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!model.HasIrVersion || model.IrVersion <= 0)
            throw new OnnxFormatException($"{source}: not an ONNX model (no ir_version).");
        if (model.Graph is null)
            throw new OnnxFormatException($"{source}: not an ONNX model (no graph).");
        ModelTensors.ForEach(model, (t, where) => ValidateTensor(t, where, source));
        ValidateGraph(model.Graph, new Scope(null), source);
    }

    private sealed class Scope(Scope? parent)
    {
        public readonly HashSet<string> Names = new(StringComparer.Ordinal);
        public bool IsDefined(string name) => Names.Contains(name) || (parent?.IsDefined(name) ?? false);
    }

    private static void ValidateGraph(GraphProto graph, Scope outer, string source)
    {
        var scope = new Scope(outer);
        var where = string.IsNullOrEmpty(graph.Name) ? "graph" : $"graph '{graph.Name}'";
        // Which node produced each name, for duplicate and cycle checks. -1 = graph input / initializer.
        var producer = new Dictionary<string, int>(StringComparer.Ordinal);
        var inputNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var vi in graph.Input)
        {
            if (string.IsNullOrEmpty(vi.Name)) throw new OnnxFormatException($"{source}: {where} has an input with no name.");
            if (!inputNames.Add(vi.Name)) throw new OnnxFormatException($"{source}: {where} declares input '{vi.Name}' twice.");
            producer[vi.Name] = -1;
        }
        var initNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in graph.Initializer)
        {
            if (string.IsNullOrEmpty(t.Name)) throw new OnnxFormatException($"{source}: {where} has an initializer with no name.");
            if (!initNames.Add(t.Name)) throw new OnnxFormatException($"{source}: {where} has two initializers named '{t.Name}'.");
            producer[t.Name] = -1; // an initializer may share its name with an input (IR < 4 style): same value
        }
        foreach (var s in graph.SparseInitializer)
        {
            var name = s.Values?.Name;
            if (string.IsNullOrEmpty(name)) throw new OnnxFormatException($"{source}: {where} has a sparse initializer with no name.");
            if (initNames.Contains(name) || !initNames.Add(name)) throw new OnnxFormatException($"{source}: {where} has two initializers named '{name}'.");
            producer[name] = -1;
        }
        for (int i = 0; i < graph.Node.Count; i++)
        {
            var node = graph.Node[i];
            foreach (var o in node.Output)
            {
                if (o.Length == 0) continue;
                if (producer.TryGetValue(o, out var other))
                {
                    var first = other < 0 ? "a graph input or initializer" : $"node {Describe(graph.Node[other])}";
                    throw new OnnxFormatException($"{source}: {where}: duplicate value name '{o}': produced by node {Describe(node)} and by {first}.");
                }
                producer[o] = i;
            }
        }
        foreach (var name in producer.Keys) scope.Names.Add(name);

        // Edges between nodes of this graph (explicit inputs and names that subgraphs read from this scope).
        var successors = new List<int>[graph.Node.Count];
        var indegree = new int[graph.Node.Count];
        for (int i = 0; i < graph.Node.Count; i++)
        {
            var node = graph.Node[i];
            var reads = new HashSet<string>(StringComparer.Ordinal);
            foreach (var input in node.Input)
            {
                if (input.Length == 0) continue;
                if (!scope.IsDefined(input))
                    throw new OnnxFormatException($"{source}: {where}: node {Describe(node)} reads undefined value '{input}'.");
                reads.Add(input);
            }
            foreach (var a in node.Attribute)
            {
                if (a.G is not null) { ValidateGraph(a.G, scope, source); CollectOuterReads(a.G, reads); }
                foreach (var g in a.Graphs) { ValidateGraph(g, scope, source); CollectOuterReads(g, reads); }
            }
            foreach (var name in reads)
            {
                if (producer.TryGetValue(name, out var p) && p >= 0)
                {
                    (successors[p] ??= new()).Add(i);
                    indegree[i]++;
                }
            }
        }
        foreach (var o in graph.Output)
        {
            if (string.IsNullOrEmpty(o.Name)) throw new OnnxFormatException($"{source}: {where} has an output with no name.");
            if (!scope.IsDefined(o.Name)) throw new OnnxFormatException($"{source}: {where}: graph output '{o.Name}' is not produced by any node, input or initializer.");
        }

        // Kahn's algorithm: whatever is left over sits on a cycle.
        var queue = new Queue<int>();
        for (int i = 0; i < indegree.Length; i++) if (indegree[i] == 0) queue.Enqueue(i);
        int visited = 0;
        while (queue.Count > 0)
        {
            int n = queue.Dequeue();
            visited++;
            if (successors[n] is null) continue;
            foreach (var s in successors[n]) if (--indegree[s] == 0) queue.Enqueue(s);
        }
        if (visited != graph.Node.Count)
        {
            var onCycle = Enumerable.Range(0, indegree.Length).Where(i => indegree[i] > 0).Take(5).Select(i => Describe(graph.Node[i]));
            throw new OnnxFormatException($"{source}: {where} has a cycle through nodes {string.Join(", ", onCycle)}.");
        }
    }

    /// <summary>Names a subgraph reads that it does not define itself (its references to enclosing scopes).</summary>
    internal static void CollectOuterReads(GraphProto graph, HashSet<string> reads)
    {
        var defined = new HashSet<string>(StringComparer.Ordinal);
        foreach (var i in graph.Input) defined.Add(i.Name);
        foreach (var t in graph.Initializer) defined.Add(t.Name);
        foreach (var s in graph.SparseInitializer) if (s.Values is not null) defined.Add(s.Values.Name);
        foreach (var n in graph.Node) foreach (var o in n.Output) defined.Add(o);
        var inner = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in graph.Node)
        {
            foreach (var i in n.Input) if (i.Length > 0) inner.Add(i);
            foreach (var a in n.Attribute)
            {
                if (a.G is not null) CollectOuterReads(a.G, inner);
                foreach (var g in a.Graphs) CollectOuterReads(g, inner);
            }
        }
        foreach (var o in graph.Output) inner.Add(o.Name);
        foreach (var name in inner) if (!defined.Contains(name)) reads.Add(name);
    }

    private static void ValidateTensor(TensorProto t, string where, string source)
    {
        var type = (ElementType)t.DataType;
        if (!Enum.IsDefined(type))
            throw new OnnxFormatException($"{source}: {where} has unknown data type {t.DataType}.");
        long count;
        try { count = TensorProtoConverter.ElementCount(t); }
        catch (OnnxFormatException e) { throw new OnnxFormatException($"{source}: {where}: {e.Message}"); }
        if (TensorProtoConverter.DataMismatch(t, count) is { } problem)
            throw new OnnxFormatException($"{source}: {where}: {problem}.");
    }

    private static string Describe(NodeProto node) =>
        string.IsNullOrEmpty(node.Name) ? $"<unnamed {node.OpType} writing '{node.Output.FirstOrDefault()}'>" : $"'{node.Name}' ({node.OpType})";
}
