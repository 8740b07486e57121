using System.Runtime.InteropServices;
using Google.Protobuf;
using OnnxPrune.Onnx.Proto;
using OnnxPrune.Tensors;

namespace OnnxPrune.Onnx;

/// <summary>
/// Converts between ONNX <see cref="TensorProto"/> messages (e.g. the <c>.pb</c> files of ONNX test data sets)
/// and <see cref="Tensor"/>s. Self-contained: reads <c>raw_data</c>, every typed data field and external data.
/// </summary>
public static class TensorProtoConverter
{
    /// <summary>Converts a TensorProto to a tensor (data copied).</summary>
    /// <param name="proto">The message.</param>
    /// <param name="baseDirectory">Folder that external-data locations are relative to; required only for external data.</param>
    /// <exception cref="OnnxFormatException">The message is inconsistent (data length vs dims) or names missing external data.</exception>
    /// <exception cref="UnsupportedModelException">String (or other variable-size) tensors.</exception>
    public static Tensor ToTensor(TensorProto proto, string? baseDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(proto);
        var type = (ElementType)proto.DataType;
        var name = string.IsNullOrEmpty(proto.Name) ? "(unnamed)" : proto.Name;
        if (type == ElementType.String)
            throw new UnsupportedModelException($"Tensor '{name}' holds strings, which OnnxPrune tensors cannot represent.");
        if (ElementTypes.ByteCount(type, 1) == 0)
            throw new UnsupportedModelException($"Tensor '{name}' has element type {proto.DataType}, which OnnxPrune tensors cannot represent.");
        var dims = proto.Dims.ToArray();
        long count;
        try { count = Tensor.CountElements(dims); }
        catch (ArgumentException e) { throw new OnnxFormatException($"Tensor '{name}' has invalid dims {Tensor.FormatShape(dims)}.", e); }
        long byteCount = ElementTypes.ByteCount(type, count);

        byte[] bytes;
        if (proto.HasDataLocation && proto.DataLocation == TensorProto.Types.DataLocation.External)
            bytes = ReadExternal(proto, name, baseDirectory, byteCount);
        else if (proto.HasRawData)
            bytes = proto.RawData.ToByteArray();
        else
            bytes = FromTypedFields(proto, type, name, count, byteCount);

        if (bytes.LongLength != byteCount)
            throw new OnnxFormatException(
                $"Tensor '{name}' of {ElementTypes.OnnxName(type)}{Tensor.FormatShape(dims)} needs {byteCount} bytes of data, found {bytes.LongLength}.");
        return new Tensor(type, dims, bytes);
    }

    /// <summary>Parses a serialized TensorProto (e.g. an <c>input_0.pb</c> file) and converts it.</summary>
    /// <exception cref="OnnxFormatException">The bytes are not a valid TensorProto.</exception>
    public static Tensor ReadFile(string path)
    {
        TensorProto proto;
        try { proto = TensorProto.Parser.ParseFrom(File.ReadAllBytes(path)); }
        catch (InvalidProtocolBufferException e) { throw new OnnxFormatException($"{path} is not a valid TensorProto: {e.Message}", e); }
        return ToTensor(proto, Path.GetDirectoryName(Path.GetFullPath(path)));
    }

    /// <summary>Converts a tensor to a TensorProto with <c>raw_data</c> (little-endian).</summary>
    public static TensorProto FromTensor(Tensor tensor, string name)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var proto = new TensorProto { Name = name ?? "", DataType = (int)tensor.ElementType, RawData = ByteString.CopyFrom(tensor.RawData) };
        proto.Dims.AddRange(tensor.Shape);
        return proto;
    }

    /// <summary>Writes a tensor as a serialized TensorProto file.</summary>
    public static void WriteFile(Tensor tensor, string name, string path) =>
        File.WriteAllBytes(path, FromTensor(tensor, name).ToByteArray());

    private static byte[] FromTypedFields(TensorProto proto, ElementType type, string name, long count, long byteCount)
    {
        var bytes = new byte[byteCount];
        switch (type)
        {
            case ElementType.Float:
            case ElementType.Complex64:
                CheckCount(name, proto.FloatData.Count, byteCount / 4);
                MemoryMarshal.AsBytes(proto.FloatData.ToArray().AsSpan()).CopyTo(bytes);
                break;
            case ElementType.Double:
            case ElementType.Complex128:
                CheckCount(name, proto.DoubleData.Count, byteCount / 8);
                MemoryMarshal.AsBytes(proto.DoubleData.ToArray().AsSpan()).CopyTo(bytes);
                break;
            case ElementType.Int64:
                CheckCount(name, proto.Int64Data.Count, count);
                MemoryMarshal.AsBytes(proto.Int64Data.ToArray().AsSpan()).CopyTo(bytes);
                break;
            case ElementType.UInt64:
                CheckCount(name, proto.Uint64Data.Count, count);
                MemoryMarshal.AsBytes(proto.Uint64Data.ToArray().AsSpan()).CopyTo(bytes);
                break;
            case ElementType.UInt32:
            {
                // uint32 values are stored in uint64_data.
                CheckCount(name, proto.Uint64Data.Count, count);
                var dst = MemoryMarshal.Cast<byte, uint>(bytes.AsSpan());
                for (int i = 0; i < dst.Length; i++) dst[i] = (uint)proto.Uint64Data[i];
                break;
            }
            case ElementType.Int32:
                CheckCount(name, proto.Int32Data.Count, count);
                MemoryMarshal.AsBytes(proto.Int32Data.ToArray().AsSpan()).CopyTo(bytes);
                break;
            case ElementType.Int16:
            case ElementType.UInt16:
            case ElementType.Float16:
            case ElementType.BFloat16:
            {
                // 16-bit types: one element (its bit pattern for float16/bfloat16) per int32.
                CheckCount(name, proto.Int32Data.Count, count);
                var dst = MemoryMarshal.Cast<byte, ushort>(bytes.AsSpan());
                for (int i = 0; i < dst.Length; i++) dst[i] = unchecked((ushort)proto.Int32Data[i]);
                break;
            }
            case ElementType.Int8:
            case ElementType.UInt8:
            case ElementType.Bool:
            case ElementType.Float8E4M3FN:
            case ElementType.Float8E4M3FNUZ:
            case ElementType.Float8E5M2:
            case ElementType.Float8E5M2FNUZ:
                CheckCount(name, proto.Int32Data.Count, count);
                for (int i = 0; i < bytes.Length; i++) bytes[i] = unchecked((byte)proto.Int32Data[i]);
                break;
            case ElementType.Int4:
            case ElementType.UInt4:
            case ElementType.Float4E2M1:
                // Sub-byte types: int32_data holds the packed bytes (two elements each), one per int32.
                CheckCount(name, proto.Int32Data.Count, byteCount);
                for (int i = 0; i < bytes.Length; i++) bytes[i] = unchecked((byte)proto.Int32Data[i]);
                break;
            default:
                throw new UnsupportedModelException($"Tensor '{name}' has element type {type} with no typed data field.");
        }
        return bytes;
    }

    private static void CheckCount(string name, int found, long expected)
    {
        if (found != expected)
            throw new OnnxFormatException($"Tensor '{name}' has {found} typed data values, expected {expected}.");
    }

    private static byte[] ReadExternal(TensorProto proto, string name, string? baseDirectory, long byteCount)
    {
        string? location = null;
        long offset = 0, length = -1;
        foreach (var entry in proto.ExternalData)
        {
            switch (entry.Key)
            {
                case "location": location = entry.Value; break;
                case "offset": offset = long.Parse(entry.Value, System.Globalization.CultureInfo.InvariantCulture); break;
                case "length": length = long.Parse(entry.Value, System.Globalization.CultureInfo.InvariantCulture); break;
            }
        }
        if (location == null) throw new OnnxFormatException($"Tensor '{name}' uses external data but names no location.");
        if (baseDirectory == null) throw new OnnxFormatException($"Tensor '{name}' uses external data ({location}) but no base directory was given.");
        var path = Path.GetFullPath(Path.Combine(baseDirectory, location));
        if (!File.Exists(path)) throw new OnnxFormatException($"External data file '{path}' of tensor '{name}' not found.");
        if (length < 0) length = byteCount;
        using var stream = File.OpenRead(path);
        if (offset + length > stream.Length)
            throw new OnnxFormatException($"External data of tensor '{name}' ({path}, offset {offset}, length {length}) runs past the end of the file.");
        var bytes = new byte[length];
        stream.Seek(offset, SeekOrigin.Begin);
        stream.ReadExactly(bytes);
        return bytes;
    }
}
