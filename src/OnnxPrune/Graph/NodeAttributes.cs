using Google.Protobuf;
using OnnxPrune.Onnx;
using OnnxPrune.Onnx.Proto;
using OnnxPrune.Tensors;
using AttrType = OnnxPrune.Onnx.Proto.AttributeProto.Types.AttributeType;

namespace OnnxPrune.Graph;

/// <summary>Typed reads and writes of a node's attributes. A read of the wrong type names the node and attribute.</summary>
public sealed class NodeAttributes
{
    private readonly Node _node;

    internal NodeAttributes(Node node) => _node = node;

    /// <summary>The attribute names in order.</summary>
    public IEnumerable<string> Names => _node.Proto.Attribute.Select(a => a.Name);

    /// <summary>True when the attribute is present.</summary>
    public bool Contains(string name) => Find(name) is not null;

    /// <summary>The raw attribute message (a live reference), or null.</summary>
    public AttributeProto? Find(string name)
    {
        foreach (var a in _node.Proto.Attribute) if (a.Name == name) return a;
        return null;
    }

    /// <summary>An integer attribute, or <paramref name="fallback"/> when absent.</summary>
    public long GetInt(string name, long fallback) => Get(name, AttrType.Int) is { } a ? a.I : fallback;

    /// <summary>An integer attribute, or null when absent.</summary>
    public long? GetIntOrNull(string name) => Get(name, AttrType.Int)?.I;

    /// <summary>A float attribute, or <paramref name="fallback"/> when absent.</summary>
    public float GetFloat(string name, float fallback) => Get(name, AttrType.Float) is { } a ? a.F : fallback;

    /// <summary>A string attribute (UTF-8), or <paramref name="fallback"/> when absent.</summary>
    public string? GetString(string name, string? fallback = null) => Get(name, AttrType.String) is { } a ? a.S.ToStringUtf8() : fallback;

    /// <summary>An integer list attribute, or null when absent.</summary>
    public long[]? GetInts(string name) => Get(name, AttrType.Ints)?.Ints.ToArray();

    /// <summary>A float list attribute, or null when absent.</summary>
    public float[]? GetFloats(string name) => Get(name, AttrType.Floats)?.Floats.ToArray();

    /// <summary>A tensor attribute decoded, or null when absent.</summary>
    /// <exception cref="OnnxFormatException">The attribute is not a tensor, holds no tensor, or its data is invalid.</exception>
    public Tensor? GetTensor(string name)
    {
        if (Get(name, AttrType.Tensor) is not { } a) return null;
        if (a.T is null)
            throw new OnnxFormatException($"Node {_node.DisplayName} ({_node.OpType}): attribute '{name}' is TENSOR but holds no tensor.");
        try { return TensorProtoConverter.ToTensor(a.T); }
        catch (OnnxFormatException e) { throw new OnnxFormatException($"Node {_node.DisplayName} ({_node.OpType}): attribute '{name}': {e.Message}", e); }
    }

    /// <summary>Sets an integer attribute.</summary>
    public void Set(string name, long value) => Replace(new AttributeProto { Name = name, Type = AttrType.Int, I = value });

    /// <summary>Sets a float attribute.</summary>
    public void Set(string name, float value) => Replace(new AttributeProto { Name = name, Type = AttrType.Float, F = value });

    /// <summary>Sets a string attribute.</summary>
    public void Set(string name, string value) => Replace(new AttributeProto { Name = name, Type = AttrType.String, S = ByteString.CopyFromUtf8(value) });

    /// <summary>Sets an integer list attribute.</summary>
    public void Set(string name, IEnumerable<long> values)
    {
        var a = new AttributeProto { Name = name, Type = AttrType.Ints };
        a.Ints.AddRange(values);
        Replace(a);
    }

    /// <summary>Sets a float list attribute.</summary>
    public void Set(string name, IEnumerable<float> values)
    {
        var a = new AttributeProto { Name = name, Type = AttrType.Floats };
        a.Floats.AddRange(values);
        Replace(a);
    }

    /// <summary>Sets a tensor attribute.</summary>
    public void Set(string name, Tensor value) =>
        Replace(new AttributeProto { Name = name, Type = AttrType.Tensor, T = TensorProtoConverter.FromTensor(value, "") });

    /// <summary>Sets a subgraph attribute (stored as given).</summary>
    public void Set(string name, GraphProto graph) => Replace(new AttributeProto { Name = name, Type = AttrType.Graph, G = graph });

    /// <summary>Removes an attribute; returns whether it was present.</summary>
    public bool Remove(string name)
    {
        var list = _node.Proto.Attribute;
        for (int i = 0; i < list.Count; i++)
            if (list[i].Name == name) { list.RemoveAt(i); return true; }
        return false;
    }

    private void Replace(AttributeProto attribute)
    {
        var list = _node.Proto.Attribute;
        for (int i = 0; i < list.Count; i++)
            if (list[i].Name == attribute.Name) { list[i] = attribute; return; }
        list.Add(attribute);
    }

    private AttributeProto? Get(string name, AttrType expected)
    {
        var a = Find(name);
        if (a is null) return null;
        var actual = a.HasType ? a.Type : InferType(a);
        if (actual != expected)
            throw new OnnxFormatException($"Node {_node.DisplayName} ({_node.OpType}): attribute '{name}' is {actual}, expected {expected}.");
        return a;
    }

    // IR version 1 attributes carry no type field; infer it from the field that is set.
    private static AttrType InferType(AttributeProto a)
    {
        if (a.HasF) return AttrType.Float;
        if (a.HasI) return AttrType.Int;
        if (a.HasS) return AttrType.String;
        if (a.T is not null) return AttrType.Tensor;
        if (a.G is not null) return AttrType.Graph;
        if (a.Floats.Count > 0) return AttrType.Floats;
        if (a.Ints.Count > 0) return AttrType.Ints;
        if (a.Strings.Count > 0) return AttrType.Strings;
        if (a.Tensors.Count > 0) return AttrType.Tensors;
        if (a.Graphs.Count > 0) return AttrType.Graphs;
        return AttrType.Undefined;
    }
}
