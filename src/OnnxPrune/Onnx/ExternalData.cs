using Google.Protobuf;
using OnnxPrune.Onnx.Proto;
using OnnxPrune.Tensors;

namespace OnnxPrune.Onnx;

/// <summary>
/// ONNX external data: a tensor's bytes live in a separate file named by its <c>external_data</c> entries
/// (<c>location</c> relative to the model's folder, optional <c>offset</c> and <c>length</c>).
/// </summary>
internal static class ExternalData
{
    /// <summary>True when the tensor's data is in an external file.</summary>
    public static bool IsExternal(TensorProto t) =>
        t.HasDataLocation && t.DataLocation == TensorProto.Types.DataLocation.External;

    /// <summary>Reads an external tensor's bytes, checking the file, range and size.</summary>
    /// <exception cref="OnnxFormatException">Missing keys, a location outside the model folder, a missing or too short file, or a size that does not match the dims.</exception>
    public static byte[] Read(TensorProto tensor, string baseDirectory, string source)
    {
        string? location = null;
        long offset = 0, length = -1;
        foreach (var kv in tensor.ExternalData)
        {
            switch (kv.Key)
            {
                case "location": location = kv.Value; break;
                case "offset": offset = ParseLong(kv.Value, "offset", tensor, source); break;
                case "length": length = ParseLong(kv.Value, "length", tensor, source); break;
            }
        }
        if (string.IsNullOrEmpty(location))
            throw new OnnxFormatException($"{source}: tensor '{tensor.Name}' is marked external but has no 'location'.");
        var path = ResolveLocation(location, baseDirectory, tensor, source);
        if (!File.Exists(path))
            throw new OnnxFormatException($"{source}: external data file '{path}' for tensor '{tensor.Name}' is missing.");
        // A link could point anywhere, past the folder check above.
        if (new FileInfo(path).LinkTarget is not null)
            throw new OnnxFormatException($"{source}: external data file '{path}' for tensor '{tensor.Name}' is a symbolic link, which could point outside the model's folder.");

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.RandomAccess);
        long fileLength = stream.Length;
        if (length < 0) length = fileLength - offset;
        // Written as a subtraction: offset + length may overflow for corrupt values.
        if (offset > fileLength || length < 0 || length > fileLength - offset)
            throw new OnnxFormatException(
                $"{source}: external data file '{path}' is too short for tensor '{tensor.Name}': needs {Math.Max(length, 0)} bytes at offset {offset}, file has {fileLength}.");
        var type = (ElementType)tensor.DataType;
        if (ElementTypes.SizeOf(type) > 0 || type is ElementType.UInt4 or ElementType.Int4 or ElementType.Float4E2M1)
        {
            long expected = ElementTypes.ByteCount(type, TensorProtoConverter.ElementCount(tensor));
            if (expected != length)
                throw new OnnxFormatException(
                    $"{source}: tensor '{tensor.Name}' ({type} [{string.Join(",", tensor.Dims)}]) needs {expected} bytes but its external data in '{path}' has length {length}.");
        }
        if (length > Array.MaxLength)
            throw new UnsupportedModelException($"{source}: tensor '{tensor.Name}' has {length} bytes; one tensor is limited to {Array.MaxLength} bytes.");
        var data = GC.AllocateUninitializedArray<byte>((int)length);
        stream.Position = offset;
        stream.ReadExactly(data);
        return data;
    }

    /// <summary>Reads every external tensor of the model into raw_data and clears the external references.</summary>
    public static void LoadAll(ModelProto model, string? baseDirectory, string source)
    {
        ModelTensors.ForEach(model, (t, where) =>
        {
            if (!IsExternal(t)) return;
            if (baseDirectory is null)
                throw new OnnxFormatException($"{source}: {where} is stored in an external file, but the model was not loaded from a path; pass the model's folder.");
            var bytes = Read(t, baseDirectory, source);
            t.RawData = UnsafeByteOperations.UnsafeWrap(bytes);
            t.ExternalData.Clear();
            t.ClearDataLocation();
        });
    }

    private static long ParseLong(string text, string key, TensorProto t, string source) =>
        long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v)
            ? v
            : throw new OnnxFormatException($"{source}: tensor '{t.Name}' has external data {key} '{text}', not a non-negative integer.");

    /// <summary>Maps a location to a path inside the model folder; absolute paths and '..' escapes are refused.</summary>
    public static string ResolveLocation(string location, string baseDirectory, TensorProto tensor, string source)
    {
        if (location.Contains('\0'))
            throw new OnnxFormatException($"{source}: tensor '{tensor.Name}' has an external data location with a NUL character.");
        if (Path.IsPathRooted(location))
            throw new OnnxFormatException($"{source}: tensor '{tensor.Name}' has an absolute external data location '{location}'; ONNX requires a path relative to the model.");
        var root = Path.GetFullPath(baseDirectory);
        var full = Path.GetFullPath(Path.Combine(root, location));
        var rootWithSep = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        if (!full.StartsWith(rootWithSep, StringComparison.Ordinal))
            throw new OnnxFormatException($"{source}: tensor '{tensor.Name}' has external data location '{location}' outside the model's folder.");
        return full;
    }
}
