using OnnxPrune.Onnx;
using OnnxPrune.Onnx.Proto;
using OnnxPrune.Tensors;

namespace OnnxPrune.Graph;

/// <summary>
/// The mutable graph IR: values, nodes and constants with producer/consumer edges kept in step by the
/// methods here. Subgraphs (If/Loop/Scan bodies) stay as messages inside their node's attributes, untouched;
/// the values they read from this graph are the node's <see cref="Node.ImplicitInputs"/>.
/// </summary>
public sealed class Graph
{
    private readonly Dictionary<string, Value> _values = new(StringComparer.Ordinal);
    private readonly List<Node> _nodes = new();
    private readonly List<Value> _inputs = new();
    private readonly List<Value> _outputs = new();
    private readonly List<ConstantTensor> _initializers = new();
    private readonly List<Value> _valueInfo = new();
    private readonly HashSet<Value> _inValueInfo = new();
    private readonly GraphProto _template;
    private readonly Dictionary<Value, ValueInfoProto> _declarations = new();
    private int _nameCounter;

    /// <summary>Creates an empty graph.</summary>
    public Graph(string name = "main") => _template = new GraphProto { Name = name };

    private Graph(GraphProto template) => _template = template;

    /// <summary>The graph's name.</summary>
    public string Name { get => _template.Name; set => _template.Name = value; }

    /// <summary>Nodes in their current order (topological after <see cref="TopologicalSort"/>).</summary>
    public IReadOnlyList<Node> Nodes => _nodes;

    /// <summary>Graph inputs in order (in IR version 3 models this includes the initializers).</summary>
    public IReadOnlyList<Value> Inputs => _inputs;

    /// <summary>Graph outputs in order.</summary>
    public IReadOnlyList<Value> Outputs => _outputs;

    /// <summary>Initializers in order.</summary>
    public IReadOnlyList<ConstantTensor> Initializers => _initializers;

    /// <summary>Every constant tensor: initializers, then Constant nodes in node order.</summary>
    public IEnumerable<ConstantTensor> Constants =>
        _initializers.Concat(_nodes.Select(n => n.ConstantOutput).OfType<ConstantTensor>());

    /// <summary>Every value by name.</summary>
    public IReadOnlyCollection<Value> Values => _values.Values;

    /// <summary>Graph inputs that are real data inputs (not initializers).</summary>
    public IEnumerable<Value> DataInputs => _inputs.Where(v => v.Initializer is null);

    /// <summary>The value with this name, or null.</summary>
    public Value? FindValue(string name) => _values.GetValueOrDefault(name);

    /// <summary>The value with this name.</summary>
    /// <exception cref="KeyNotFoundException">No such value.</exception>
    public Value GetValue(string name) =>
        _values.TryGetValue(name, out var v) ? v : throw new KeyNotFoundException($"Graph '{Name}' has no value named '{name}'.");

    /// <summary>The node with this name, or null.</summary>
    public Node? FindNode(string name) => _nodes.FirstOrDefault(n => n.Name == name);

    /// <summary>A name not used by any value in this graph, based on <paramref name="hint"/>.</summary>
    public string UniqueName(string hint)
    {
        if (!_values.ContainsKey(hint)) return hint;
        string candidate;
        do candidate = $"{hint}_{++_nameCounter}"; while (_values.ContainsKey(candidate));
        return candidate;
    }

    /// <summary>Creates a new value (no producer yet).</summary>
    /// <exception cref="ArgumentException">The name is taken.</exception>
    public Value CreateValue(string name, ElementType elementType = ElementType.Undefined, IReadOnlyList<Dim>? shape = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (_values.ContainsKey(name)) throw new ArgumentException($"Graph '{Name}' already has a value named '{name}'.", nameof(name));
        var v = new Value(this, name);
        _values.Add(name, v);
        if (elementType != ElementType.Undefined) v.ElementType = elementType;
        if (shape is not null) v.Shape = shape;
        return v;
    }

    /// <summary>Adds a graph input.</summary>
    public Value AddInput(string name, ElementType elementType, IReadOnlyList<Dim>? shape)
    {
        var v = CreateValue(name);
        v.TypeStorage = new TypeProto { TensorType = new TypeProto.Types.Tensor() };
        v.SetTensorType(elementType, shape);
        _inputs.Add(v);
        v.IsGraphInput = true;
        _inValueInfo.Remove(v);
        _valueInfo.Remove(v);
        return v;
    }

    /// <summary>Marks a value as a graph output (appended).</summary>
    public void AddOutput(Value value)
    {
        CheckOwned(value);
        _outputs.Add(value);
        value.IsGraphOutput = true;
    }

    /// <summary>Replaces graph output <paramref name="index"/>.</summary>
    public void SetOutput(int index, Value value)
    {
        CheckOwned(value);
        var old = _outputs[index];
        _outputs[index] = value;
        old.IsGraphOutput = _outputs.Contains(old);
        value.IsGraphOutput = true;
    }

    /// <summary>Removes a value from the graph outputs.</summary>
    public void RemoveOutput(Value value)
    {
        _outputs.Remove(value);
        value.IsGraphOutput = _outputs.Contains(value);
    }

    /// <summary>Removes a value from the graph inputs (it must have no consumers unless it stays an initializer).</summary>
    public void RemoveInput(Value value)
    {
        _inputs.Remove(value);
        value.IsGraphInput = false;
        if (value.Initializer is null && value.ConsumerList.Count == 0 && !value.IsGraphOutput) _values.Remove(value.Name);
    }

    /// <summary>Adds an initializer holding <paramref name="data"/>.</summary>
    public ConstantTensor AddInitializer(string name, Tensor data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var v = CreateValue(name);
        var c = new ConstantTensor(v, data);
        v.Initializer = c;
        _initializers.Add(c);
        return c;
    }

    /// <summary>Removes an initializer and its value; it must have no consumers.</summary>
    public void RemoveInitializer(ConstantTensor initializer)
    {
        if (initializer.Kind != ConstantKind.Initializer) throw new ArgumentException("Not an initializer.", nameof(initializer));
        var v = initializer.Value;
        if (v.ConsumerList.Count > 0 || v.IsGraphOutput)
            throw new InvalidOperationException($"Initializer '{v.Name}' is still used by {v.ConsumerList.FirstOrDefault()?.DisplayName ?? "the graph outputs"}.");
        _initializers.Remove(initializer);
        v.Initializer = null;
        if (v.IsGraphInput) { _inputs.Remove(v); v.IsGraphInput = false; }
        ForgetValue(v);
    }

    /// <summary>Adds a node reading <paramref name="inputs"/> and writing new values named <paramref name="outputNames"/>.</summary>
    /// <param name="opType">Operator type.</param>
    /// <param name="inputs">Inputs; null for an omitted optional input.</param>
    /// <param name="outputNames">Names of new output values (made unique).</param>
    /// <param name="name">Node name; default: a unique name from the op type.</param>
    /// <param name="domain">Operator domain; "" is the default ONNX domain.</param>
    /// <param name="index">Position in the node list; default: the end.</param>
    public Node AddNode(string opType, IEnumerable<Value?> inputs, IEnumerable<string> outputNames, string? name = null, string domain = "", int? index = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(opType);
        var proto = new NodeProto { OpType = opType, Name = name ?? UniqueNodeName(opType) };
        if (domain.Length > 0) proto.Domain = domain;
        var node = new Node(this, proto);
        foreach (var input in inputs)
        {
            if (input is not null) { CheckOwned(input); input.ConsumerList.Add(node); }
            node.InputList.Add(input);
        }
        foreach (var outName in outputNames)
        {
            var v = CreateValue(UniqueName(outName));
            v.Producer = node;
            node.OutputList.Add(v);
        }
        _nodes.Insert(index ?? _nodes.Count, node);
        return node;
    }

    /// <summary>Removes a node; its outputs must be unused (or <paramref name="force"/> leaves them producerless).</summary>
    public void RemoveNode(Node node, bool force = false)
    {
        if (node.Graph != this) throw new ArgumentException("Node belongs to another graph.", nameof(node));
        if (!force)
        {
            foreach (var o in node.OutputList)
                if (o is not null && (o.ConsumerList.Count > 0 || o.IsGraphOutput))
                    throw new InvalidOperationException($"Cannot remove node {node.DisplayName}: its output '{o.Name}' is still used.");
        }
        foreach (var i in node.InputList) i?.ConsumerList.Remove(node);
        foreach (var i in node.ImplicitInputList) i.ConsumerList.Remove(node);
        _nodes.Remove(node);
        foreach (var o in node.OutputList)
        {
            if (o is null) continue;
            o.Producer = null;
            if (o.ConsumerList.Count == 0 && !o.IsGraphOutput) ForgetValue(o);
        }
    }

    /// <summary>Rewires input <paramref name="index"/> of <paramref name="node"/> to <paramref name="value"/> (null omits it).</summary>
    public void SetInput(Node node, int index, Value? value)
    {
        if (value is not null) CheckOwned(value);
        while (node.InputList.Count <= index) node.InputList.Add(null);
        var old = node.InputList[index];
        old?.ConsumerList.Remove(node);
        node.InputList[index] = value;
        value?.ConsumerList.Add(node);
    }

    /// <summary>Appends an input to a node.</summary>
    public void AddNodeInput(Node node, Value? value) => SetInput(node, node.InputList.Count, value);

    /// <summary>Exchanges output <paramref name="aIndex"/> of <paramref name="a"/> with output <paramref name="bIndex"/> of
    /// <paramref name="b"/>: afterwards <paramref name="a"/> writes the value <paramref name="b"/> wrote and the reverse.
    /// Consumers and graph outputs keep reading the same values; this is how a pass makes a new node write an existing
    /// (e.g. graph-output) value without renaming it.</summary>
    /// <exception cref="ArgumentException">A node belongs to another graph or an output is absent.</exception>
    public void SwapOutputs(Node a, int aIndex, Node b, int bIndex)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Graph != this || b.Graph != this) throw new ArgumentException("Node belongs to another graph.");
        var va = a.Output(aIndex) ?? throw new ArgumentException($"Node {a.DisplayName} has no output {aIndex}.", nameof(aIndex));
        var vb = b.Output(bIndex) ?? throw new ArgumentException($"Node {b.DisplayName} has no output {bIndex}.", nameof(bIndex));
        a.OutputList[aIndex] = vb;
        b.OutputList[bIndex] = va;
        va.Producer = b;
        vb.Producer = a;
    }

    /// <summary>Makes every reader of <paramref name="old"/> (nodes and graph outputs) read <paramref name="replacement"/> instead.</summary>
    /// <remarks>Subgraphs that read <paramref name="old"/> by name are not rewritten; such uses throw.</remarks>
    public void ReplaceAllUses(Value old, Value replacement)
    {
        CheckOwned(old);
        CheckOwned(replacement);
        foreach (var consumer in old.ConsumerList.ToArray())
        {
            if (consumer.ImplicitInputList.Contains(old))
                throw new UnsupportedModelException($"Value '{old.Name}' is read inside a subgraph of node {consumer.DisplayName}; it cannot be replaced.");
            for (int i = 0; i < consumer.InputList.Count; i++)
                if (consumer.InputList[i] == old) SetInput(consumer, i, replacement);
        }
        for (int i = 0; i < _outputs.Count; i++)
            if (_outputs[i] == old) SetOutput(i, replacement);
    }

    /// <summary>Orders nodes so every node comes after the producers of what it reads (stable: keeps the
    /// existing order where it is already valid).</summary>
    /// <exception cref="OnnxFormatException">The graph has a cycle.</exception>
    public void TopologicalSort()
    {
        var (order, blocked) = KahnOrder();
        if (blocked is not null)
            throw new OnnxFormatException($"Graph '{Name}' has a cycle through node {blocked.DisplayName}.");
        _nodes.Clear();
        _nodes.AddRange(order);
    }

    // Kahn's algorithm with a min-heap on the original position (stable: keeps the existing order where it is
    // already valid). Returns the order and, when the graph has a cycle, a node on it (the order is then partial).
    private (List<Node> Order, Node? Blocked) KahnOrder()
    {
        var position = new Dictionary<Node, int>();
        for (int i = 0; i < _nodes.Count; i++) position[_nodes[i]] = i;
        var indegree = new int[_nodes.Count];
        var successors = new List<int>[_nodes.Count];
        for (int i = 0; i < _nodes.Count; i++)
            foreach (var v in _nodes[i].InputList.Concat(_nodes[i].ImplicitInputList))
                if (v?.Producer is { } p && position.TryGetValue(p, out var pi)) { (successors[pi] ??= new()).Add(i); indegree[i]++; }
        var ready = new PriorityQueue<int, int>();
        for (int i = 0; i < indegree.Length; i++) if (indegree[i] == 0) ready.Enqueue(i, i);
        var order = new List<Node>(_nodes.Count);
        while (ready.TryDequeue(out var n, out _))
        {
            order.Add(_nodes[n]);
            if (successors[n] is null) continue;
            foreach (var s in successors[n]) if (--indegree[s] == 0) ready.Enqueue(s, s);
        }
        return (order, order.Count == _nodes.Count ? null : _nodes[Array.FindIndex(indegree, d => d > 0)]);
    }

    /// <summary>Removes nodes whose outputs nobody reads (nor the graph outputs), and unused initializers;
    /// returns the number of nodes removed. Graph inputs are kept.</summary>
    public int EliminateDeadCode()
    {
        int removed = 0;
        bool changed = true;
        while (changed)
        {
            changed = false;
            for (int i = _nodes.Count - 1; i >= 0; i--)
            {
                var node = _nodes[i];
                if (node.OutputList.All(o => o is null || (o.ConsumerList.Count == 0 && !o.IsGraphOutput)))
                {
                    RemoveNode(node);
                    removed++;
                    changed = true;
                }
            }
        }
        foreach (var init in _initializers.ToArray())
        {
            var v = init.Value;
            if (v.ConsumerList.Count == 0 && !v.IsGraphOutput) RemoveInitializer(init);
        }
        return removed;
    }

    /// <summary>Drops value_info declarations of values nobody reads (dead outputs of live nodes, e.g. a Dropout mask)
    /// and declarations that state no type; returns how many were dropped. Graph inputs and outputs keep theirs.</summary>
    public int RemoveUnusedValueInfo()
    {
        int removed = 0;
        foreach (var v in _valueInfo.ToArray())
        {
            bool unused = v.ConsumerList.Count == 0 && !v.IsGraphOutput;
            bool empty = !v.HasType;
            if (!unused && !empty) continue;
            _inValueInfo.Remove(v);
            _valueInfo.Remove(v);
            _valueInfoDeclarations.Remove(v);
            removed++;
        }
        return removed;
    }

    /// <summary>The node that closes a cycle, or null when the graph can be ordered topologically (nothing is changed).</summary>
    public Node? FindCycle() => KahnOrder().Blocked;

    internal void NoteTyped(Value v)
    {
        if (v.IsGraphInput || v.IsGraphOutput || v.Initializer is not null) return;
        if (_inValueInfo.Add(v)) _valueInfo.Add(v);
    }

    private void ForgetValue(Value v)
    {
        if (v.IsGraphInput || v.IsGraphOutput) return;
        _values.Remove(v.Name);
        if (_inValueInfo.Remove(v)) _valueInfo.Remove(v);
        _declarations.Remove(v);
    }

    private string UniqueNodeName(string opType)
    {
        var names = new HashSet<string>(_nodes.Select(n => n.Name), StringComparer.Ordinal);
        string candidate;
        do candidate = $"{opType}_{++_nameCounter}"; while (names.Contains(candidate));
        return candidate;
    }

    private void CheckOwned(Value value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Graph != this) throw new ArgumentException($"Value '{value.Name}' belongs to another graph.", nameof(value));
    }

    // ---------------------------------------------------------------------------------------------------
    // Import and export

    /// <summary>Builds the IR from a graph message (the message is not modified; tensors are shared).</summary>
    /// <exception cref="OnnxFormatException">Undefined inputs or duplicate names.</exception>
    public static Graph FromProto(GraphProto proto) => FromProto(proto, ownsData: false);

    // ownsData: see ConstantTensor (initializers may keep the message's raw_data arrays as their storage).
    internal static Graph FromProto(GraphProto proto, bool ownsData)
    {
        ArgumentNullException.ThrowIfNull(proto);
        var template = proto.Clone();
        template.Node.Clear();
        template.Initializer.Clear();
        template.Input.Clear();
        template.Output.Clear();
        template.ValueInfo.Clear();
        var g = new Graph(template);
        string where = $"graph '{proto.Name}'";

        foreach (var vi in proto.Input)
        {
            var v = g.GetOrCreate(vi.Name);
            if (v.IsGraphInput) throw new OnnxFormatException($"{where} declares input '{vi.Name}' twice.");
            g.Declare(v, vi);
            g._inputs.Add(v);
            v.IsGraphInput = true;
        }
        foreach (var t in proto.Initializer)
        {
            var v = g.GetOrCreate(t.Name);
            if (v.Initializer is not null) throw new OnnxFormatException($"{where} has two initializers named '{t.Name}'.");
            var c = new ConstantTensor(v, t, ownsData);
            v.Initializer = c;
            g._initializers.Add(c);
        }
        foreach (var s in proto.SparseInitializer)
        {
            // Kept in the template untouched; the value exists so that readers resolve.
            if (s.Values is not null) g.GetOrCreate(s.Values.Name);
        }
        foreach (var np in proto.Node)
        {
            var node = new Node(g, np.Clone());
            foreach (var o in np.Output)
            {
                if (o.Length == 0) { node.OutputList.Add(null); continue; }
                var v = g.GetOrCreate(o);
                if (v.Producer is not null || v.IsGraphInput || v.Initializer is not null)
                    throw new OnnxFormatException($"{where}: duplicate value name '{o}' (written by node {node.DisplayName}).");
                v.Producer = node;
                node.OutputList.Add(v);
            }
            g._nodes.Add(node);
        }
        foreach (var node in g._nodes)
        {
            foreach (var i in node.Proto.Input)
            {
                if (i.Length == 0) { node.InputList.Add(null); continue; }
                var v = g.FindValue(i) ?? throw new OnnxFormatException($"{where}: node {node.DisplayName} reads undefined value '{i}'.");
                v.ConsumerList.Add(node);
                node.InputList.Add(v);
            }
            if (!node.HasSubgraphs) continue;
            var outer = new HashSet<string>(StringComparer.Ordinal);
            foreach (var a in node.Proto.Attribute)
            {
                if (a.G is not null) ModelValidator.CollectOuterReads(a.G, outer);
                foreach (var sg in a.Graphs) ModelValidator.CollectOuterReads(sg, outer);
            }
            // Names the subgraph reads that this graph does not define come from an even outer scope; ignore them.
            foreach (var name in outer.OrderBy(n => n, StringComparer.Ordinal))
            {
                if (g.FindValue(name) is not { } v) continue;
                v.ConsumerList.Add(node);
                node.ImplicitInputList.Add(v);
            }
        }
        foreach (var vi in proto.Output)
        {
            var v = g.FindValue(vi.Name) ?? throw new OnnxFormatException($"{where}: graph output '{vi.Name}' is not produced by any node, input or initializer.");
            if (!v.IsGraphInput) g.Declare(v, vi);
            else g._outputDeclarations[v] = vi;
            g._outputs.Add(v);
            v.IsGraphOutput = true;
        }
        foreach (var vi in proto.ValueInfo)
        {
            if (g.FindValue(vi.Name) is not { } v) continue; // a declaration of nothing: dropped
            if (g._inValueInfo.Contains(v)) continue;
            g._valueInfoDeclarations[v] = vi;
            if (vi.Type is not null && v.TypeStorage is null) v.TypeStorage = vi.Type.Clone();
            g._inValueInfo.Add(v);
            g._valueInfo.Add(v);
        }
        return g;
    }

    private readonly Dictionary<Value, ValueInfoProto> _outputDeclarations = new();
    private readonly Dictionary<Value, ValueInfoProto> _valueInfoDeclarations = new();

    private Value GetOrCreate(string name)
    {
        if (string.IsNullOrEmpty(name)) throw new OnnxFormatException($"Graph '{Name}' has a value with an empty name.");
        return _values.TryGetValue(name, out var v) ? v : CreateValue(name);
    }

    private void Declare(Value v, ValueInfoProto vi)
    {
        _declarations[v] = vi;
        if (vi.Type is not null) v.TypeStorage = vi.Type.Clone();
        if (vi.HasDocString) v.DocString = vi.DocString;
    }

    /// <summary>Writes the IR back to a graph message. An unmodified graph gives a message equal to the one imported.</summary>
    public GraphProto ToProto() => ToProto(shareData: false);

    /// <summary>Writes the IR back; with <paramref name="shareData"/> edited or built tensors are wrapped, not copied
    /// (for messages that are serialized at once, see <see cref="ConstantTensor"/>).</summary>
    internal GraphProto ToProto(bool shareData)
    {
        var proto = _template.Clone();
        foreach (var v in _inputs) proto.Input.Add(Describe(v, _declarations.GetValueOrDefault(v)));
        foreach (var v in _outputs)
            proto.Output.Add(Describe(v, _outputDeclarations.GetValueOrDefault(v) ?? (v.IsGraphInput ? null : _declarations.GetValueOrDefault(v))));
        foreach (var c in _initializers) proto.Initializer.Add(c.ToProto(shareData));
        foreach (var node in _nodes)
        {
            node.ConstantOutput?.FlushConstantNode();
            var np = node.Proto.Clone();
            np.Input.Clear();
            np.Output.Clear();
            // Trailing omitted inputs are dropped; inner ones stay as "".
            int last = node.InputList.FindLastIndex(v => v is not null);
            for (int i = 0; i <= last; i++) np.Input.Add(node.InputList[i]?.Name ?? "");
            if (node.InputList.Count > last + 1 && node.Proto.Input.Count == node.InputList.Count)
                for (int i = last + 1; i < node.InputList.Count; i++) np.Input.Add("");
            foreach (var o in node.OutputList) np.Output.Add(o?.Name ?? "");
            proto.Node.Add(np);
        }
        foreach (var v in _valueInfo)
        {
            if (!_values.ContainsKey(v.Name) || v.IsGraphInput || v.IsGraphOutput) continue;
            proto.ValueInfo.Add(Describe(v, _valueInfoDeclarations.GetValueOrDefault(v)));
        }
        return proto;
    }

    private static ValueInfoProto Describe(Value v, ValueInfoProto? original)
    {
        var vi = original?.Clone() ?? new ValueInfoProto { Name = v.Name };
        if (v.TypeStorage is not null) vi.Type = v.TypeStorage.Clone();
        else vi.Type = null;
        if (v.DocString is not null) vi.DocString = v.DocString;
        return vi;
    }
}
