using System.Runtime.InteropServices;
using Google.Protobuf;
using OnnxPrune.Onnx.Proto;
using OnnxPrune.Tensors;

namespace OnnxPrune.Onnx;

/// <summary>Converts between ONNX <see cref="TensorProto"/> messages and dense <see cref="Tensor"/>s.</summary>
/// <remarks>
/// Reads every storage form ONNX allows: raw_data (little-endian), the typed fields (float_data, int32_data
/// holding int8/16, uint8/16, bool, float16/bfloat16/float8 bits, int64_data, double_data, uint64_data) and
/// external data files. Writes raw_data, the form every consumer reads fastest.
/// </remarks>
public static class TensorProtoConverter
{
    /// <summary>Decodes a tensor message.</summary>
    /// <param name="proto">The message.</param>
    /// <param name="baseDirectory">Folder that external data locations are relative to; required only for external tensors.</param>
    /// <exception cref="OnnxFormatException">The message's data does not match its type and dims, or external data is missing.</exception>
    /// <exception cref="UnsupportedModelException">String or 4-bit typed-field tensors.</exception>
    public static Tensor ToTensor(TensorProto proto, string? baseDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(proto);
        var type = (ElementType)proto.DataType;
        var name = proto.HasName ? proto.Name : "<unnamed>";
        if (type is ElementType.String)
            throw new UnsupportedModelException($"Tensor '{name}' holds strings, which OnnxPrune does not decode.");
        if (!Enum.IsDefined(type) || type == ElementType.Undefined)
            throw new OnnxFormatException($"Tensor '{name}' has unknown data type {proto.DataType}.");
        long count = ElementCount(proto);
        long bytes = ElementTypes.ByteCount(type, count);
        if (bytes > Array.MaxLength)
            throw new UnsupportedModelException($"Tensor '{name}' has {bytes} bytes; one tensor is limited to {Array.MaxLength} bytes.");
        var dims = proto.Dims.ToArray();

        if (proto.HasDataLocation && proto.DataLocation == TensorProto.Types.DataLocation.External)
        {
            if (baseDirectory is null)
                throw new OnnxFormatException($"Tensor '{name}' is stored in an external file, but no model folder is known to find it.");
            var data = ExternalData.Read(proto, baseDirectory, "<model>");
            return new Tensor(type, dims, data);
        }

        if (proto.HasRawData)
        {
            if (proto.RawData.Length != bytes)
                throw new OnnxFormatException($"Tensor '{name}' ({type} {Tensor.FormatShape(dims)}) needs {bytes} bytes of raw_data, has {proto.RawData.Length}.");
            return new Tensor(type, dims, proto.RawData.ToByteArray());
        }

        var result = Tensor.Zeros(type, dims);
        var raw = result.RawData.AsSpan();
        switch (type)
        {
            case ElementType.Float:
                CheckCount(proto.FloatData.Count, count, name, "float_data");
                Copy<float>(proto.FloatData, raw);
                break;
            case ElementType.Complex64:
                CheckCount(proto.FloatData.Count, count * 2, name, "float_data");
                Copy<float>(proto.FloatData, raw);
                break;
            case ElementType.Double:
                CheckCount(proto.DoubleData.Count, count, name, "double_data");
                Copy<double>(proto.DoubleData, raw);
                break;
            case ElementType.Complex128:
                CheckCount(proto.DoubleData.Count, count * 2, name, "double_data");
                Copy<double>(proto.DoubleData, raw);
                break;
            case ElementType.Int64:
                CheckCount(proto.Int64Data.Count, count, name, "int64_data");
                Copy<long>(proto.Int64Data, raw);
                break;
            case ElementType.UInt64:
                CheckCount(proto.Uint64Data.Count, count, name, "uint64_data");
                Copy<ulong>(proto.Uint64Data, raw);
                break;
            case ElementType.UInt32:
                {
                    CheckCount(proto.Uint64Data.Count, count, name, "uint64_data");
                    var dst = MemoryMarshal.Cast<byte, uint>(raw);
                    for (int i = 0; i < dst.Length; i++) dst[i] = (uint)proto.Uint64Data[i];
                    break;
                }
            case ElementType.Int32:
                CheckCount(proto.Int32Data.Count, count, name, "int32_data");
                Copy<int>(proto.Int32Data, raw);
                break;
            case ElementType.Int16:
            case ElementType.UInt16:
            case ElementType.Float16:
            case ElementType.BFloat16:
                {
                    CheckCount(proto.Int32Data.Count, count, name, "int32_data");
                    var dst = MemoryMarshal.Cast<byte, ushort>(raw);
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
                CheckCount(proto.Int32Data.Count, count, name, "int32_data");
                for (int i = 0; i < raw.Length; i++) raw[i] = unchecked((byte)proto.Int32Data[i]);
                break;
            default:
                if (count == 0) break;
                throw new UnsupportedModelException($"Tensor '{name}': {type} data in typed fields is not supported; store it as raw_data.");
        }
        return result;
    }

    /// <summary>Parses a serialized TensorProto (e.g. an <c>input_0.pb</c> file) and converts it.</summary>
    /// <exception cref="OnnxFormatException">The bytes are not a valid TensorProto.</exception>
    public static Tensor ReadFile(string path)
    {
        TensorProto proto;
        try { proto = TensorProto.Parser.ParseFrom(File.ReadAllBytes(path)); }
        catch (Google.Protobuf.InvalidProtocolBufferException e) { throw new OnnxFormatException($"{path} is not a valid TensorProto: {e.Message}", e); }
        return ToTensor(proto, Path.GetDirectoryName(Path.GetFullPath(path)));
    }

    /// <summary>Writes a tensor as a serialized TensorProto file.</summary>
    public static void WriteFile(Tensor tensor, string name, string path) =>
        File.WriteAllBytes(path, FromTensor(tensor, name).ToByteArray());

    /// <summary>Encodes a tensor as a message with raw_data.</summary>
    public static TensorProto FromTensor(Tensor tensor, string name)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var proto = new TensorProto { Name = name, DataType = (int)tensor.ElementType };
        proto.Dims.AddRange(tensor.Shape);
        proto.RawData = ByteString.CopyFrom(tensor.RawData);
        return proto;
    }

    /// <summary>Element count from dims, with a typed error on negative dims or overflow.</summary>
    public static long ElementCount(TensorProto proto)
    {
        long count = 1;
        foreach (var d in proto.Dims)
        {
            if (d < 0) throw new OnnxFormatException($"Tensor '{proto.Name}' has negative dimension {d}.");
            try { count = checked(count * d); }
            catch (OverflowException) { throw new OnnxFormatException($"Tensor '{proto.Name}' has dims [{string.Join(",", proto.Dims)}] whose product overflows."); }
        }
        return count;
    }

    /// <summary>True when the message holds its values anywhere (raw, typed fields, or an external reference).</summary>
    public static bool HasData(TensorProto proto) =>
        proto.HasRawData || proto.FloatData.Count > 0 || proto.Int32Data.Count > 0 || proto.Int64Data.Count > 0 ||
        proto.DoubleData.Count > 0 || proto.Uint64Data.Count > 0 || proto.StringData.Count > 0 ||
        (proto.HasDataLocation && proto.DataLocation == TensorProto.Types.DataLocation.External);

    private static void CheckCount(int actual, long expected, string name, string field)
    {
        if (actual != expected)
            throw new OnnxFormatException($"Tensor '{name}' needs {expected} values in {field}, has {actual}.");
    }

    private static void Copy<T>(Google.Protobuf.Collections.RepeatedField<T> source, Span<byte> destination) where T : unmanaged
    {
        var dst = MemoryMarshal.Cast<byte, T>(destination);
        for (int i = 0; i < dst.Length; i++) dst[i] = source[i];
    }
}
