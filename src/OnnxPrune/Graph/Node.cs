using OnnxPrune.Onnx.Proto;

namespace OnnxPrune.Graph;

/// <summary>
/// One operator application. Inputs and outputs are <see cref="Value"/>s (null for an omitted optional one);
/// attributes, doc string, subgraphs and unknown fields stay in the underlying message and survive a round trip.
/// </summary>
public sealed class Node
{
    internal readonly List<Value?> InputList = new();
    internal readonly List<Value?> OutputList = new();
    internal readonly List<Value> ImplicitInputList = new();
    internal readonly NodeProto Proto;
    private ConstantTensor? _constantOutput;

    internal Node(Graph graph, NodeProto proto)
    {
        Graph = graph;
        Proto = proto;
        Attributes = new NodeAttributes(this);
    }

    /// <summary>The graph this node belongs to.</summary>
    public Graph Graph { get; }

    /// <summary>The node's name (may be empty in ONNX; <see cref="DisplayName"/> is never empty).</summary>
    public string Name { get => Proto.Name; set => Proto.Name = value; }

    /// <summary>The operator type, e.g. "Conv".</summary>
    public string OpType => Proto.OpType;

    /// <summary>The operator domain; "" (or "ai.onnx") is the default ONNX domain.</summary>
    public string Domain => Proto.Domain;

    /// <summary>True for operators of the default ONNX domain.</summary>
    public bool IsStandard => Proto.Domain is "" or "ai.onnx";

    /// <summary>Inputs in order; null where an optional input is omitted.</summary>
    public IReadOnlyList<Value?> Inputs => InputList;

    /// <summary>Outputs in order; null where an optional output is omitted.</summary>
    public IReadOnlyList<Value?> Outputs => OutputList;

    /// <summary>Values of the enclosing graph that this node's subgraphs read (If/Loop/Scan bodies).</summary>
    public IReadOnlyList<Value> ImplicitInputs => ImplicitInputList;

    /// <summary>Typed access to the attributes.</summary>
    public NodeAttributes Attributes { get; }

    /// <summary>True when an attribute holds a subgraph.</summary>
    public bool HasSubgraphs => Proto.Attribute.Any(a => a.G is not null || a.Graphs.Count > 0);

    /// <summary>Documentation string.</summary>
    public string DocString { get => Proto.DocString; set => Proto.DocString = value; }

    /// <summary>The input at <paramref name="index"/>, or null when absent or omitted.</summary>
    public Value? Input(int index) => index < InputList.Count ? InputList[index] : null;

    /// <summary>The output at <paramref name="index"/>, or null when absent or omitted.</summary>
    public Value? Output(int index) => index < OutputList.Count ? OutputList[index] : null;

    /// <summary>The name for messages: the node name, or op type and first output.</summary>
    public string DisplayName => string.IsNullOrEmpty(Proto.Name) ? $"<{OpType} → {OutputList.FirstOrDefault()?.Name}>" : Proto.Name;

    /// <summary>For a Constant node, its value as a <see cref="ConstantTensor"/>; null otherwise.</summary>
    internal ConstantTensor? ConstantOutput
    {
        get
        {
            if (OpType != "Constant" || !IsStandard || OutputList.Count != 1 || OutputList[0] is null) return null;
            if (!ConstantTensor.IsSupportedConstantNode(this)) return null;
            return _constantOutput ??= new ConstantTensor(this);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"{DisplayName} ({OpType})";
}
