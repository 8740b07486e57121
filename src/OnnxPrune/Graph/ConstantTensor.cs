using Google.Protobuf;
using OnnxPrune.Onnx;
using OnnxPrune.Onnx.Proto;
using OnnxPrune.Tensors;

namespace OnnxPrune.Graph;

/// <summary>Where a constant tensor is stored in the model.</summary>
public enum ConstantKind
{
    /// <summary>A graph initializer.</summary>
    Initializer,
    /// <summary>The value of a Constant node (PaddleOCR exports keep all weights this way).</summary>
    ConstantNode,
}

/// <summary>
/// The one notion of a constant tensor, covering initializers and Constant nodes alike. Data decodes lazily;
/// assigning <see cref="Data"/> rewrites the underlying message and the value's declared type and shape.
/// </summary>
public sealed class ConstantTensor
{
    private readonly Node? _node;
    private bool _ownsData; // _proto's raw_data array is ours alone: the decoded tensor may use it as storage
    private TensorProto? _proto;   // the imported message, while it still matches the data
    private TensorProto? _header;  // doc string and metadata of an initializer whose data was replaced
    private Tensor? _data;

    /// <param name="value">The value the initializer defines.</param>
    /// <param name="proto">The imported message.</param>
    /// <param name="ownsData">True when no one outside the IR sees the message (a model this library just loaded):
    /// decoding then wraps the raw_data array instead of copying it, so the model holds each weight once, and the
    /// message keeps showing the current data. Messages handed out by <see cref="ToProto"/> then get a copy.</param>
    internal ConstantTensor(Value value, TensorProto proto, bool ownsData = false)
    {
        Value = value;
        _proto = proto;
        _ownsData = ownsData;
        Kind = ConstantKind.Initializer;
    }

    // An initializer built in code: the tensor is the only copy of the data; it is encoded on export.
    internal ConstantTensor(Value value, Tensor data)
    {
        Value = value;
        _data = data;
        Kind = ConstantKind.Initializer;
    }

    internal ConstantTensor(Node constantNode)
    {
        _node = constantNode;
        Value = constantNode.OutputList[0]!;
        Kind = ConstantKind.ConstantNode;
    }

    /// <summary>The value this constant defines.</summary>
    public Value Value { get; }

    /// <summary>Initializer or Constant node.</summary>
    public ConstantKind Kind { get; }

    /// <summary>The Constant node, for <see cref="ConstantKind.ConstantNode"/>.</summary>
    public Node? Node => _node;

    /// <summary>The name (the value's name).</summary>
    public string Name => Value.Name;

    /// <summary>The element type, read without decoding the data.</summary>
    public ElementType ElementType => _data?.ElementType ?? ReadHeader().Type;

    /// <summary>The dimensions, read without decoding the data.</summary>
    public IReadOnlyList<long> Shape => _data?.Shape ?? ReadHeader().Dims;

    /// <summary>Number of elements, read without decoding the data.</summary>
    /// <exception cref="OnnxFormatException">Negative dims, or dims whose product overflows (possible only in a model
    /// that was not validated).</exception>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (var d in Shape)
            {
                if (d < 0) throw new OnnxFormatException($"Constant '{Name}' has negative dimension {d}.");
                if (d != 0 && n > TensorProtoConverter.MaxElements / d) throw new OnnxFormatException($"Constant '{Name}' has dims [{string.Join(",", Shape)}] whose product overflows.");
                n *= d;
            }
            return n;
        }
    }

    /// <summary>The decoded tensor (decoded once, then cached). Writes to its span change the model on export.</summary>
    public Tensor Data
    {
        get => _data ??= Decode();
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            _data = value;
            if (Kind == ConstantKind.Initializer)
            {
                // The data is encoded on export, so the model holds one copy of the weights.
                DropProto();
            }
            else
            {
                _node!.Attributes.Set("value", value);
                foreach (var other in new[] { "value_float", "value_floats", "value_int", "value_ints" })
                    _node.Attributes.Remove(other);
            }
            if (Value.HasType || Value.IsGraphInput || Kind == ConstantKind.ConstantNode)
                Value.SetTensorType(value.ElementType, value.Shape.Select(d => new Dim(d)).ToArray());
        }
    }

    /// <summary>The message to write: the original when the data is unchanged (exact round trip), else re-encoded.</summary>
    /// <param name="shareData">Wrap the tensor's bytes instead of copying them. Only for messages that are
    /// serialized at once and dropped (saving): later writes to <see cref="Data"/> would show through.</param>
    internal TensorProto ToProto(bool shareData = false)
    {
        if (_proto is not null && (_data is null || SameData(_proto, _data)))
        {
            // A message that shares the tensor's storage would change with later in-place writes: copy it, unless it is
            // serialized at once.
            // Handed out before decoding: from now on decoding copies, or later writes would show in the caller's message.
            if (!shareData && _data is null) _ownsData = false;
            if (shareData || _data is null || !SharesStorage(_proto, _data)) return _proto;
            var copy = _proto.Clone();
            copy.RawData = ByteString.CopyFrom(_data.RawData);
            return copy;
        }
        // Built in code, or edited: encode the current data, with the imported doc string and metadata.
        DropProto();
        var fresh = shareData ? TensorProtoConverter.Wrap(_data!, Value.Name) : TensorProtoConverter.FromTensor(_data!, Value.Name);
        if (_header is not null)
        {
            if (_header.HasDocString) fresh.DocString = _header.DocString;
            fresh.MetadataProps.AddRange(_header.MetadataProps);
        }
        return fresh;
    }

    // Forgets the imported message once the data no longer matches it, keeping what a Tensor cannot hold.
    private void DropProto()
    {
        if (_proto is null) return;
        if (_proto.HasDocString || _proto.MetadataProps.Count > 0)
        {
            var header = new TensorProto { Name = Value.Name };
            if (_proto.HasDocString) header.DocString = _proto.DocString;
            header.MetadataProps.AddRange(_proto.MetadataProps);
            _header = header;
        }
        _proto = null;
    }

    /// <summary>Feeds the data's canonical bytes (little-endian elements, as <see cref="Tensor.RawData"/>; string tensors:
    /// each string's length and UTF-8 bytes) into <paramref name="hash"/>, without keeping a decoded copy.</summary>
    internal void AppendDataTo(System.Security.Cryptography.IncrementalHash hash)
    {
        if (_data is not null) { hash.AppendData(_data.RawData); return; }
        var proto = Kind == ConstantKind.Initializer ? _proto : _node!.Attributes.Find("value")?.T;
        bool external = proto is { HasDataLocation: true, DataLocation: TensorProto.Types.DataLocation.External };
        if (proto is { HasRawData: true } && !external) { hash.AppendData(proto.RawData.Span); return; }
        if (proto is not null && (ElementType)proto.DataType == ElementType.String)
        {
            Span<byte> length = stackalloc byte[4];
            foreach (var s in proto.StringData)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(length, s.Length);
                hash.AppendData(length);
                hash.AppendData(s.Span);
            }
            return;
        }
        hash.AppendData(Decode().RawData);
    }

    /// <summary>Writes in-place edits of a Constant node's decoded data back into its attribute.</summary>
    internal void FlushConstantNode()
    {
        if (Kind != ConstantKind.ConstantNode || _data is null) return;
        if (_node!.Attributes.Find("value") is { T: { } t } && SameData(t, _data)) return;
        if (_node.Attributes.Find("value") is null && Decode().RawData.AsSpan().SequenceEqual(_data.RawData)) return;
        _node.Attributes.Set("value", _data);
        foreach (var other in new[] { "value_float", "value_floats", "value_int", "value_ints" })
            _node.Attributes.Remove(other);
    }

    // Spans handed out by Data may have been written to; compare before deciding to re-encode.
    private static bool SameData(TensorProto proto, Tensor data)
    {
        if ((ElementType)proto.DataType != data.ElementType || !proto.Dims.SequenceEqual(data.Shape)) return false;
        if (proto.HasRawData) return SharesStorage(proto, data) || proto.RawData.Span.SequenceEqual(data.RawData);
        return TensorProtoConverter.ToTensor(proto).RawData.AsSpan().SequenceEqual(data.RawData);
    }

    internal static bool IsSupportedConstantNode(Node node) =>
        node.Attributes.Find("value") is { T: not null } ||
        node.Attributes.Contains("value_float") || node.Attributes.Contains("value_floats") ||
        node.Attributes.Contains("value_int") || node.Attributes.Contains("value_ints");

    private (ElementType Type, IReadOnlyList<long> Dims) ReadHeader()
    {
        if (Kind == ConstantKind.Initializer) return ((ElementType)_proto!.DataType, _proto.Dims); // _data is set whenever _proto is not
        var attrs = _node!.Attributes;
        if (attrs.Find("value") is { T: { } t }) return ((ElementType)t.DataType, t.Dims);
        if (attrs.Contains("value_float")) return (ElementType.Float, Array.Empty<long>());
        if (attrs.Contains("value_int")) return (ElementType.Int64, Array.Empty<long>());
        if (attrs.Find("value_floats") is { } fs) return (ElementType.Float, new long[] { fs.Floats.Count });
        if (attrs.Find("value_ints") is { } ints) return (ElementType.Int64, new long[] { ints.Ints.Count });
        throw new UnsupportedModelException($"Constant node {_node.DisplayName} has no tensor value.");
    }

    private static bool SharesStorage(TensorProto proto, Tensor data) =>
        proto.HasRawData && ReferenceEquals(ByteStrings.WholeArray(proto.RawData), data.RawData);

    private Tensor Decode()
    {
        if (Kind == ConstantKind.Initializer)
        {
            var proto = _proto!;
            // Our own message: the tensor takes over its raw_data array (checked by the Tensor constructor).
            if (_ownsData && proto.HasRawData && !ExternalData.IsExternal(proto) && ByteStrings.WholeArray(proto.RawData) is { } raw
                && TensorProtoConverter.TryWrap(proto, raw) is { } wrapped)
                return wrapped;
            return TensorProtoConverter.ToTensor(proto);
        }
        var attrs = _node!.Attributes;
        if (attrs.Find("value") is { T: { } t }) return TensorProtoConverter.ToTensor(t);
        if (attrs.Contains("value_float")) return Tensor.Scalar(attrs.GetFloat("value_float", 0));
        if (attrs.Contains("value_int")) return Tensor.Scalar(attrs.GetInt("value_int", 0));
        if (attrs.GetFloats("value_floats") is { } fs) return Tensor.FromArray<float>(fs, fs.Length);
        if (attrs.GetInts("value_ints") is { } ints) return Tensor.FromArray<long>(ints, ints.Length);
        throw new UnsupportedModelException($"Constant node {_node.DisplayName} has no tensor value.");
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Kind}) {ElementTypes.OnnxName(ElementType)}[{string.Join(",", Shape)}]";
}
