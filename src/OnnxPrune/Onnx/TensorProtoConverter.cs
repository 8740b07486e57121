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

        // Check the typed field's length before allocating: a corrupt dims field must not allocate gigabytes.
        var (field, have, perElement) = TypedField(proto, type);
        if (field is not null) CheckCount(have, count * perElement, name, field);
        else if (count > 0)
            throw new UnsupportedModelException($"Tensor '{name}': {type} data in typed fields is not supported; store it as raw_data.");

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

    /// <summary>A tensor whose storage is <paramref name="raw"/> (not copied), the message's raw_data array, or null when
    /// the message's type, dims and length do not match (then <see cref="ToTensor"/> says why).</summary>
    internal static Tensor? TryWrap(TensorProto proto, byte[] raw)
    {
        var type = (ElementType)proto.DataType;
        if (type is ElementType.String or ElementType.Undefined || !Enum.IsDefined(type)) return null;
        foreach (var d in proto.Dims)
            if (d < 0) return null;
        long count;
        try { count = ElementCount(proto); }
        catch (OnnxFormatException) { return null; }
        if (ElementTypes.ByteCount(type, count) != raw.LongLength) return null;
        return new Tensor(type, proto.Dims.ToArray(), raw);
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

    /// <summary>Encodes a tensor as a message whose raw_data wraps the tensor's bytes (no copy). The message is
    /// valid only while the tensor is not written to; used for messages that are serialized at once.</summary>
    internal static TensorProto Wrap(Tensor tensor, string name)
    {
        var proto = new TensorProto { Name = name, DataType = (int)tensor.ElementType };
        proto.Dims.AddRange(tensor.Shape);
        proto.RawData = UnsafeByteOperations.UnsafeWrap(tensor.RawData);
        return proto;
    }

    /// <summary>The most elements a tensor may declare: byte counts of every element type still fit in a long.</summary>
    internal const long MaxElements = long.MaxValue / 16;

    /// <summary>Element count from dims, with a typed error on negative dims or overflow.</summary>
    public static long ElementCount(TensorProto proto)
    {
        long count = 1;
        foreach (var d in proto.Dims)
        {
            if (d < 0) throw new OnnxFormatException($"Tensor '{proto.Name}' has negative dimension {d}.");
            // Bounded so that the byte count (up to 16 bytes an element) cannot overflow either.
            if (d != 0 && count > MaxElements / d)
                throw new OnnxFormatException($"Tensor '{proto.Name}' has dims [{string.Join(",", proto.Dims)}] whose product overflows.");
            count *= d;
        }
        return count;
    }

    /// <summary>True when the message holds its values anywhere (raw, typed fields, or an external reference).</summary>
    public static bool HasData(TensorProto proto) =>
        proto.HasRawData || proto.FloatData.Count > 0 || proto.Int32Data.Count > 0 || proto.Int64Data.Count > 0 ||
        proto.DoubleData.Count > 0 || proto.Uint64Data.Count > 0 || proto.StringData.Count > 0 ||
        (proto.HasDataLocation && proto.DataLocation == TensorProto.Types.DataLocation.External);

    /// <summary>Why a tensor's inline data does not match its type and dims, or null when it does (or when the
    /// data is external, which is checked when read).</summary>
    internal static string? DataMismatch(TensorProto proto, long count)
    {
        var type = (ElementType)proto.DataType;
        var name = proto.HasName ? proto.Name : "<unnamed>";
        if (proto.HasDataLocation && proto.DataLocation == TensorProto.Types.DataLocation.External) return null;
        if (type == ElementType.Undefined) return null;
        if (proto.HasRawData)
        {
            if (type == ElementType.String) return $"tensor '{name}' holds strings but has raw_data";
            long expected = ElementTypes.ByteCount(type, count);
            return proto.RawData.Length == expected ? null
                : $"tensor '{name}' ({type} [{string.Join(",", proto.Dims)}]) needs {expected} bytes of raw_data, has {proto.RawData.Length}";
        }
        if (type == ElementType.String)
            return proto.StringData.Count == count || proto.StringData.Count == 0 && count == 0 ? null
                : $"tensor '{name}' needs {count} values in string_data, has {proto.StringData.Count}";
        var (field, have, perElement) = TypedField(proto, type);
        if (field is null) return null; // 4-bit types: only raw_data is decoded, and checked there
        return have == count * perElement ? null : $"tensor '{name}' needs {count * perElement} values in {field}, has {have}";
    }

    // The typed field that holds a type's values, its length, and values per element (2 for complex).
    private static (string? Field, int Count, long PerElement) TypedField(TensorProto p, ElementType type) => type switch
    {
        ElementType.Float => ("float_data", p.FloatData.Count, 1),
        ElementType.Complex64 => ("float_data", p.FloatData.Count, 2),
        ElementType.Double => ("double_data", p.DoubleData.Count, 1),
        ElementType.Complex128 => ("double_data", p.DoubleData.Count, 2),
        ElementType.Int64 => ("int64_data", p.Int64Data.Count, 1),
        ElementType.UInt64 or ElementType.UInt32 => ("uint64_data", p.Uint64Data.Count, 1),
        ElementType.Int32 or ElementType.Int16 or ElementType.UInt16 or ElementType.Float16 or ElementType.BFloat16
            or ElementType.Int8 or ElementType.UInt8 or ElementType.Bool or ElementType.Float8E4M3FN
            or ElementType.Float8E4M3FNUZ or ElementType.Float8E5M2 or ElementType.Float8E5M2FNUZ => ("int32_data", p.Int32Data.Count, 1),
        _ => (null, 0, 0),
    };

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
