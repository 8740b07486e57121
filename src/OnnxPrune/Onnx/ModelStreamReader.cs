using System.Runtime.InteropServices;
using Google.Protobuf;
using OnnxPrune.Onnx.Proto;

namespace OnnxPrune.Onnx;

/// <summary>
/// Parses a model file straight from disk so that each initializer's raw_data is read once, into its own array, with
/// no intermediate copy: Google.Protobuf parses a whole-file buffer by copying every bytes field out of it, which
/// holds the weights twice while loading and costs a second pass over them.
/// </summary>
/// <remarks>
/// The reader walks the wire format of <c>ModelProto</c> → <c>graph</c> (field 7) → <c>initializer</c> (field 5) →
/// <c>raw_data</c> (field 9) itself; every other field is handed, in file order, to the generated parser (a message
/// parsed from the concatenation of its fields equals the message merged field by field, so the result equals
/// <c>ModelProto.Parser.ParseFrom</c> of the same bytes). The raw_data arrays are wrapped, not copied, and belong to
/// the returned message alone. Anything unexpected (truncation, a length past its message, group wire types, a field
/// the generated parser rejects) returns null, and the caller parses the file the ordinary way, which reports the
/// error in its usual words.
/// </remarks>
internal sealed class ModelStreamReader
{
    private const int ModelGraphTag = (7 << 3) | 2;
    private const int GraphInitializerTag = (5 << 3) | 2;
    private const int TensorRawDataTag = (9 << 3) | 2;

    private readonly Stream _stream;
    private readonly byte[] _buffer = new byte[1 << 16];
    private int _position, _length;
    private long _bufferStart; // stream offset of _buffer[0]

    private ModelStreamReader(Stream stream) => _stream = stream;

    /// <summary>Parses a model file, or returns null when the file is not a well-formed model (see remarks).</summary>
    public static ModelProto? TryRead(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
        var reader = new ModelStreamReader(stream);
        try
        {
            var model = new ModelProto();
            reader.ReadModel(model, stream.Length);
            return model;
        }
        catch (MalformedException) { return null; }
        catch (InvalidProtocolBufferException) { return null; }
    }

    private long Position => _bufferStart + _position;

    private void ReadModel(ModelProto model, long end)
    {
        var rest = new MemoryStream();
        while (Position < end)
        {
            long fieldStart = rest.Length;
            uint tag = ReadTag(rest);
            if (tag == ModelGraphTag)
            {
                rest.SetLength(fieldStart);
                long length = ReadLength(end);
                ReadGraph(model.Graph ??= new GraphProto(), Position + length);
            }
            else CopyField(tag, end, rest);
        }
        Merge(model, rest);
    }

    private void ReadGraph(GraphProto graph, long end)
    {
        var rest = new MemoryStream();
        while (Position < end)
        {
            long fieldStart = rest.Length;
            uint tag = ReadTag(rest);
            if (tag == GraphInitializerTag)
            {
                rest.SetLength(fieldStart);
                long length = ReadLength(end);
                var tensor = new TensorProto();
                ReadTensor(tensor, Position + length);
                graph.Initializer.Add(tensor);
            }
            else CopyField(tag, end, rest);
        }
        if (Position != end) throw new MalformedException();
        Merge(graph, rest);
    }

    private void ReadTensor(TensorProto tensor, long end)
    {
        var rest = new MemoryStream();
        while (Position < end)
        {
            long fieldStart = rest.Length;
            uint tag = ReadTag(rest);
            if (tag == TensorRawDataTag)
            {
                rest.SetLength(fieldStart);
                long length = ReadLength(end);
                if (length > Array.MaxLength) throw new MalformedException();
                var data = GC.AllocateUninitializedArray<byte>((int)length);
                ReadExactly(data);
                tensor.RawData = UnsafeByteOperations.UnsafeWrap(data);
            }
            else CopyField(tag, end, rest);
        }
        if (Position != end) throw new MalformedException();
        Merge(tensor, rest);
    }

    private static void Merge(IMessage message, MemoryStream fields)
    {
        if (fields.Length == 0) return;
        message.MergeFrom(fields.GetBuffer(), 0, checked((int)fields.Length));
    }

    // Copies one field (its tag already in 'into') to 'into', checking that it ends by 'end'.
    private void CopyField(uint tag, long end, MemoryStream into)
    {
        switch (tag & 7)
        {
            case 0: ReadVarint(into); break;
            case 1: Copy(8, into); break;
            case 2:
                long length = (long)ReadVarint(into);
                if (length < 0 || length > end - Position) throw new MalformedException();
                Copy(length, into);
                break;
            case 5: Copy(4, into); break;
            default: throw new MalformedException(); // groups (deprecated) and invalid wire types: leave to the parser
        }
        if (Position > end) throw new MalformedException();
    }

    private uint ReadTag(MemoryStream into)
    {
        ulong tag = ReadVarint(into);
        if (tag == 0 || tag > uint.MaxValue) throw new MalformedException();
        return (uint)tag;
    }

    private long ReadLength(long end)
    {
        ulong length = ReadVarint(null);
        if (length > (ulong)(end - Position)) throw new MalformedException();
        return (long)length;
    }

    private ulong ReadVarint(MemoryStream? into)
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_position == _length && !Fill()) throw new MalformedException();
            byte b = _buffer[_position++];
            into?.WriteByte(b);
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return value;
        }
        throw new MalformedException();
    }

    private void Copy(long count, MemoryStream into)
    {
        while (count > 0)
        {
            if (_position == _length && !Fill()) throw new MalformedException();
            int n = (int)Math.Min(count, _length - _position);
            into.Write(_buffer, _position, n);
            _position += n;
            count -= n;
        }
    }

    // Buffered bytes first, then straight from the file into the destination.
    private void ReadExactly(Span<byte> destination)
    {
        int buffered = Math.Min(destination.Length, _length - _position);
        _buffer.AsSpan(_position, buffered).CopyTo(destination);
        _position += buffered;
        var rest = destination[buffered..];
        if (rest.IsEmpty) return;
        try { _stream.ReadExactly(rest); }
        catch (EndOfStreamException) { throw new MalformedException(); }
        _bufferStart += _length + rest.Length;
        _position = _length = 0;
    }

    private bool Fill()
    {
        _bufferStart += _length;
        _position = 0;
        _length = _stream.Read(_buffer, 0, _buffer.Length);
        return _length > 0;
    }

    private sealed class MalformedException : Exception;
}

/// <summary>Access to the bytes behind a <see cref="ByteString"/>.</summary>
internal static class ByteStrings
{
    /// <summary>The array that a ByteString wraps when it spans the whole array (as the ones this library creates on
    /// load do), else null.</summary>
    public static byte[]? WholeArray(ByteString bytes) =>
        MemoryMarshal.TryGetArray(bytes.Memory, out var segment) && segment.Offset == 0 && segment.Array is { } array && segment.Count == array.Length
            ? array : null;
}
