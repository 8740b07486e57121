using OnnxPrune.Tensors;

namespace OnnxPrune.Graph;

/// <summary>
/// A small fluent API for constructing ONNX graphs in code: inputs, initializers, operators with
/// attributes, outputs. Used by tests, tools and the training-graph emitter.
/// </summary>
/// <example>
/// <code>
/// var b = new GraphBuilder();
/// var x = b.Input("x", ElementType.Float, "N", 3, 32, 32);
/// var y = b.Relu(b.Conv(x, b.Initializer("w", Tensor.FromArray(weights, 8, 3, 3, 3)), pads: [1, 1, 1, 1]));
/// b.Output(y);
/// OnnxModel model = b.Build();
/// </code>
/// </example>
public sealed class GraphBuilder
{
    /// <summary>Starts a model importing the default ONNX domain at <paramref name="opset"/>.</summary>
    public GraphBuilder(int opset = 17, long irVersion = 8) => Model = new OnnxModel(opset, irVersion);

    /// <summary>Continues building on an existing model's main graph.</summary>
    public GraphBuilder(OnnxModel model) => Model = model;

    /// <summary>The model being built.</summary>
    public OnnxModel Model { get; }

    /// <summary>The main graph being built.</summary>
    public Graph Graph => Model.Graph;

    /// <summary>Adds a graph input; dims are numbers (known) or strings (symbolic).</summary>
    public Value Input(string name, ElementType type, params object[] dims) => Graph.AddInput(name, type, ToDims(dims));

    /// <summary>Adds an initializer.</summary>
    public Value Initializer(string name, Tensor data) => Graph.AddInitializer(Graph.UniqueName(name), data).Value;

    /// <summary>Adds a float initializer from values and a shape.</summary>
    public Value Initializer(string name, float[] values, params long[] shape) => Initializer(name, Tensor.FromArray<float>(values, shape));

    /// <summary>Adds an int64 initializer from values and a shape (1-D of the values' length by default).</summary>
    public Value Int64s(string name, params long[] values) => Initializer(name, Tensor.FromArray<long>(values, values.Length));

    /// <summary>Adds a Constant node holding <paramref name="data"/>.</summary>
    public Value ConstantNode(Tensor data, string? name = null)
    {
        var node = Graph.AddNode("Constant", Array.Empty<Value?>(), new[] { Graph.UniqueName(name ?? "const") });
        node.Attributes.Set("value", data);
        node.Output(0)!.SetTensorType(data.ElementType, data.Shape.Select(d => new Dim(d)).ToArray());
        return node.Output(0)!;
    }

    /// <summary>Adds an operator with one output.</summary>
    /// <param name="opType">Operator type.</param>
    /// <param name="inputs">Inputs; null for an omitted optional one.</param>
    /// <param name="attributes">Attributes as name/value pairs: long, int, float, double, string, long[], int[], float[], <see cref="Tensor"/>.</param>
    public Value Op(string opType, Value?[] inputs, params (string Name, object Value)[] attributes) =>
        OpNode(opType, inputs, 1, attributes).Output(0)!;

    /// <summary>Adds an operator and returns the node (for several outputs).</summary>
    public Node OpNode(string opType, Value?[] inputs, int outputCount, params (string Name, object Value)[] attributes)
    {
        var baseName = $"{opType.ToLowerInvariant()}_out";
        var node = Graph.AddNode(opType, inputs, Enumerable.Range(0, outputCount).Select(i => outputCount == 1 ? baseName : $"{baseName}{i}"));
        foreach (var (name, value) in attributes) SetAttribute(node, name, value);
        return node;
    }

    /// <summary>Marks values as graph outputs.</summary>
    public GraphBuilder Output(params Value[] values)
    {
        foreach (var v in values) Graph.AddOutput(v);
        return this;
    }

    /// <summary>Marks a value as a graph output and declares its type and shape.</summary>
    public GraphBuilder Output(Value value, ElementType type, params object[] dims)
    {
        value.SetTensorType(type, ToDims(dims));
        Graph.AddOutput(value);
        return this;
    }

    /// <summary>Finishes: puts nodes in topological order and returns the model.</summary>
    public OnnxModel Build()
    {
        Graph.TopologicalSort();
        return Model;
    }

    // ---- common operators ----

    /// <summary>Conv with optional bias.</summary>
    public Value Conv(Value x, Value w, Value? b = null, long[]? strides = null, long[]? pads = null, long group = 1, long[]? dilations = null)
    {
        var attrs = new List<(string, object)>();
        if (strides is not null) attrs.Add(("strides", strides));
        if (pads is not null) attrs.Add(("pads", pads));
        if (dilations is not null) attrs.Add(("dilations", dilations));
        if (group != 1) attrs.Add(("group", group));
        return Op("Conv", b is null ? [x, w] : [x, w, b], attrs.ToArray());
    }

    /// <summary>BatchNormalization (inference form).</summary>
    public Value BatchNorm(Value x, Value scale, Value bias, Value mean, Value var, float epsilon = 1e-5f) =>
        Op("BatchNormalization", [x, scale, bias, mean, var], ("epsilon", epsilon));

    /// <summary>Gemm: alpha·A·B(ᵀ) + beta·C.</summary>
    public Value Gemm(Value a, Value b, Value? c = null, bool transB = false) =>
        Op("Gemm", c is null ? [a, b] : [a, b, c], transB ? new[] { ("transB", (object)1L) } : []);

    /// <summary>Relu.</summary>
    public Value Relu(Value x) => Op("Relu", [x]);

    /// <summary>Sigmoid.</summary>
    public Value Sigmoid(Value x) => Op("Sigmoid", [x]);

    /// <summary>Elementwise Add.</summary>
    public Value Add(Value a, Value b) => Op("Add", [a, b]);

    /// <summary>Elementwise Mul.</summary>
    public Value Mul(Value a, Value b) => Op("Mul", [a, b]);

    /// <summary>MatMul.</summary>
    public Value MatMul(Value a, Value b) => Op("MatMul", [a, b]);

    /// <summary>Reshape to a constant shape (stored as an int64 initializer).</summary>
    public Value Reshape(Value x, params long[] shape) => Op("Reshape", [x, Int64s("shape", shape)]);

    /// <summary>Transpose.</summary>
    public Value Transpose(Value x, params long[] perm) => Op("Transpose", [x], ("perm", perm));

    /// <summary>Softmax along an axis.</summary>
    public Value Softmax(Value x, long axis = -1) => Op("Softmax", [x], ("axis", axis));

    /// <summary>Flatten.</summary>
    public Value Flatten(Value x, long axis = 1) => Op("Flatten", [x], ("axis", axis));

    /// <summary>GlobalAveragePool.</summary>
    public Value GlobalAveragePool(Value x) => Op("GlobalAveragePool", [x]);

    /// <summary>Concat along an axis.</summary>
    public Value Concat(long axis, params Value[] inputs) => Op("Concat", inputs, ("axis", axis));

    private static void SetAttribute(Node node, string name, object value)
    {
        switch (value)
        {
            case long l: node.Attributes.Set(name, l); break;
            case int i: node.Attributes.Set(name, (long)i); break;
            case float f: node.Attributes.Set(name, f); break;
            case double d: node.Attributes.Set(name, (float)d); break;
            case string s: node.Attributes.Set(name, s); break;
            case long[] ls: node.Attributes.Set(name, ls); break;
            case int[] ins: node.Attributes.Set(name, ins.Select(x => (long)x)); break;
            case float[] fs: node.Attributes.Set(name, fs); break;
            case Tensor t: node.Attributes.Set(name, t); break;
            default: throw new ArgumentException($"Attribute '{name}': unsupported value type {value?.GetType().Name ?? "null"}.", nameof(value));
        }
    }

    private static Dim[] ToDims(object[] dims) => dims.Select(d => d switch
    {
        long l => new Dim(l),
        int i => new Dim(i),
        string s => new Dim(s),
        Dim dim => dim,
        _ => throw new ArgumentException($"Dimension {d} must be a number or a name."),
    }).ToArray();
}
