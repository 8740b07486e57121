using OnnxPrune.Onnx.Proto;
using OnnxPrune.Tensors;

namespace OnnxPrune.Graph;

/// <summary>
/// A named value in a graph: a graph input, an initializer, or a node output. Knows its producer and
/// consumers; only <see cref="Graph"/> methods change those, so edges always stay in step.
/// </summary>
public sealed class Value
{
    internal readonly List<Node> ConsumerList = new();
    internal TypeProto? TypeStorage;

    internal Value(Graph graph, string name)
    {
        Graph = graph;
        Name = name;
    }

    /// <summary>The graph this value belongs to.</summary>
    public Graph Graph { get; }

    /// <summary>The unique name.</summary>
    public string Name { get; }

    /// <summary>The node that writes this value, or null for graph inputs and initializers.</summary>
    public Node? Producer { get; internal set; }

    /// <summary>Nodes that read this value (once per use), including nodes whose subgraphs read it.</summary>
    public IReadOnlyList<Node> Consumers => ConsumerList;

    /// <summary>True when listed in the graph's inputs.</summary>
    public bool IsGraphInput { get; internal set; }

    /// <summary>True when listed in the graph's outputs.</summary>
    public bool IsGraphOutput { get; internal set; }

    /// <summary>The initializer that defines this value, or null.</summary>
    public ConstantTensor? Initializer { get; internal set; }

    /// <summary>The constant tensor this value holds (an initializer or a Constant node's output), or null.</summary>
    public ConstantTensor? Constant => Initializer ?? Producer?.ConstantOutput;

    /// <summary>Documentation string from the value's declaration.</summary>
    public string? DocString { get; set; }

    /// <summary>True when the value's type is declared or inferred (it is then written to the model).</summary>
    public bool HasType => TypeStorage is not null;

    /// <summary>The element type, or <see cref="ElementType.Undefined"/> when unknown or not a tensor
    /// (for an undeclared constant: the constant's type).</summary>
    public ElementType ElementType
    {
        get => TypeStorage?.TensorType is { HasElemType: true } t ? (ElementType)t.ElemType
            : TypeStorage is null && Constant is { } c ? c.ElementType : ElementType.Undefined;
        set
        {
            EnsureTensorType().ElemType = (int)value;
            Graph.NoteTyped(this);
        }
    }

    /// <summary>The shape; null when the rank is unknown or the value is not a tensor (for an undeclared constant: its dims).</summary>
    public IReadOnlyList<Dim>? Shape
    {
        get
        {
            if (TypeStorage is null && Constant is { } c) return c.Shape.Select(d => new Dim(d)).ToArray();
            var shape = TypeStorage?.TensorType?.Shape;
            if (shape is null) return null;
            var dims = new Dim[shape.Dim.Count];
            for (int i = 0; i < dims.Length; i++)
            {
                var d = shape.Dim[i];
                dims[i] = d.ValueCase switch
                {
                    TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => new Dim(d.DimValue),
                    TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam => new Dim(d.DimParam),
                    _ => Dim.Unknown,
                };
            }
            return dims;
        }
        set
        {
            var t = EnsureTensorType();
            if (value is null) { t.Shape = null; Graph.NoteTyped(this); return; }
            var shape = new TensorShapeProto();
            var old = t.Shape;
            for (int i = 0; i < value.Count; i++)
            {
                var d = new TensorShapeProto.Types.Dimension();
                if (value[i].Value is long v) d.DimValue = v;
                else if (value[i].Param is string p && !DimExpression.IsExpression(p)) d.DimParam = p; // expressions stay internal
                // Keep a dimension's denotation (e.g. DATA_BATCH) when the rank is unchanged.
                if (old is not null && old.Dim.Count == value.Count && old.Dim[i].HasDenotation) d.Denotation = old.Dim[i].Denotation;
                shape.Dim.Add(d);
            }
            t.Shape = shape;
            Graph.NoteTyped(this);
        }
    }

    /// <summary>The full ONNX type (for sequence, map or optional values too); a copy.</summary>
    public TypeProto? Type
    {
        get => TypeStorage?.Clone();
        set { TypeStorage = value?.Clone(); if (value is not null) Graph.NoteTyped(this); }
    }

    /// <summary>Sets element type and shape at once.</summary>
    public void SetTensorType(ElementType elementType, IReadOnlyList<Dim>? shape)
    {
        ElementType = elementType;
        Shape = shape;
    }

    private TypeProto.Types.Tensor EnsureTensorType()
    {
        TypeStorage ??= new TypeProto();
        if (TypeStorage.ValueCase != TypeProto.ValueOneofCase.TensorType)
            TypeStorage.TensorType = new TypeProto.Types.Tensor();
        return TypeStorage.TensorType;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {(ElementType == ElementType.Undefined ? "?" : ElementTypes.OnnxName(ElementType))}{Dim.Format(Shape)}";
}
