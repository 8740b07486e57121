using Google.Protobuf;
using OnnxPrune.Onnx.Proto;
using OnnxPrune.Tensors;

namespace OnnxPrune.Onnx;

/// <summary>
/// Loads and saves ONNX models as <see cref="ModelProto"/> messages: inline or with external data, atomically,
/// and deterministically (the same model always gives the same bytes).
/// </summary>
/// <remarks>
/// Protobuf limits one message to 2 GiB. Models above that keep their tensors in external data files; this class
/// never serializes a message with the big tensors inline, so weights above 2 GiB in total load and save fine
/// (each single tensor is limited to about 2 GiB, the size of one .NET array).
/// </remarks>
public static class ModelIO
{
    /// <summary>Protobuf's hard limit on a serialized message.</summary>
    public const long ProtobufLimit = int.MaxValue;

    /// <summary>Loads a model file; external data is looked up relative to the file's folder.</summary>
    /// <exception cref="OnnxFormatException">The file is not a valid model, or its external data is missing or too short.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static ModelProto Load(string path, ModelLoadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: model file not found.", path);
        var info = new FileInfo(path);
        if (info.Length > ProtobufLimit)
            throw new OnnxFormatException($"{path}: {info.Length} bytes is above protobuf's 2 GiB limit; large models must keep weights in external data.");
        // Each weight is read once, into its own array; a file the fast reader cannot take is parsed the usual way,
        // which also words any error.
        var model = ModelStreamReader.TryRead(path);
        if (model is null) return Load(File.ReadAllBytes(path), Path.GetDirectoryName(Path.GetFullPath(path)), path, options);
        return Complete(model, Path.GetDirectoryName(Path.GetFullPath(path)), path, options ?? ModelLoadOptions.Default);
    }

    /// <summary>Loads a model from a stream (read to its end).</summary>
    /// <param name="stream">The serialized model.</param>
    /// <param name="baseDirectory">Folder for external data files, or null when the model has none.</param>
    /// <param name="sourceName">Name used in error messages.</param>
    /// <param name="options">Load options.</param>
    public static ModelProto Load(Stream stream, string? baseDirectory = null, string sourceName = "<stream>", ModelLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return Load(buffer.ToArray(), baseDirectory, sourceName, options);
    }

    /// <summary>Loads a model from bytes.</summary>
    /// <param name="bytes">The serialized model.</param>
    /// <param name="baseDirectory">Folder for external data files, or null when the model has none.</param>
    /// <param name="sourceName">Name used in error messages.</param>
    /// <param name="options">Load options.</param>
    public static ModelProto Load(byte[] bytes, string? baseDirectory = null, string sourceName = "<bytes>", ModelLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        options ??= ModelLoadOptions.Default;
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxFormatException($"{sourceName}: not a valid ONNX model ({e.Message})", e);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Google.Protobuf may surface malformed input as other exception types; all mean "bad file".
            throw new OnnxFormatException($"{sourceName}: not a valid ONNX model ({e.GetType().Name}: {e.Message})", e);
        }
        return Complete(model, baseDirectory, sourceName, options);
    }

    private static ModelProto Complete(ModelProto model, string? baseDirectory, string sourceName, ModelLoadOptions options)
    {
        if (options.Validate) ModelValidator.Validate(model, sourceName);
        if (options.LoadExternalData) ExternalData.LoadAll(model, baseDirectory, sourceName);
        return model;
    }

    /// <summary>Serializes a model with all data inline.</summary>
    /// <exception cref="UnsupportedModelException">The model is too large for one protobuf message or still references external data.</exception>
    public static byte[] ToBytes(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        EnsureInlineable(model, "<bytes>");
        return model.ToByteArray();
    }

    /// <summary>Writes a model with all data inline to a stream.</summary>
    public static void Save(ModelProto model, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stream);
        EnsureInlineable(model, "<stream>");
        model.WriteTo(stream);
    }

    /// <summary>Saves a model file, with tensors inline or in an external data file beside it (see <see cref="ModelSaveOptions"/>).
    /// The files appear complete or not at all.</summary>
    public static void Save(ModelProto model, string path, ModelSaveOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= ModelSaveOptions.Default;
        if (options.ExternalDataAlignment <= 0) throw new ArgumentOutOfRangeException(nameof(options), "ExternalDataAlignment must be positive.");
        CheckNoExternalReferences(model, path);

        long dataBytes = InlineDataBytes(model);
        bool external = options.ExternalData switch
        {
            ExternalDataMode.External => true,
            ExternalDataMode.Inline => false,
            // Leave room for everything that is not tensor data (nodes, names, shapes).
            _ => dataBytes > options.MessageLimit - Math.Min(64L << 20, options.MessageLimit / 32),
        };
        if (!external && dataBytes > options.MessageLimit - Math.Min(1L << 20, options.MessageLimit / 1024))
            throw new UnsupportedModelException($"{path}: {dataBytes} bytes of tensor data do not fit in one protobuf message (2 GiB); save with external data.");

        using var writer = new AtomicFileWriter();
        if (!external)
        {
            using (var stream = writer.Create(path))
            {
                model.WriteTo(stream);
                stream.Flush(flushToDisk: true);
            }
            writer.Commit();
            return;
        }

        var dataName = options.ExternalDataFileName ?? Path.GetFileName(path) + ".data";
        if (dataName.Length == 0 || Path.IsPathRooted(dataName) || dataName.Contains("..", StringComparison.Ordinal) || dataName.Contains('\0')
            || Path.EndsInDirectorySeparator(dataName) || dataName is ".")
            throw new ArgumentException($"External data file name '{dataName}' must be a plain file name relative to the model.", nameof(options));
        var modelDir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        // Both files are renamed into place at the end: the same name twice would leave only the second.
        if (string.Equals(Path.GetFullPath(Path.Combine(modelDir, dataName)), Path.GetFullPath(path), StringComparison.Ordinal))
            throw new ArgumentException($"External data file name '{dataName}' is the model file itself.", nameof(options));
        // Clone shares the (immutable) tensor bytes, so this costs messages, not weights.
        var stripped = model.Clone();
        using (var data = writer.Create(Path.Combine(modelDir, dataName)))
        {
            long offset = 0;
            var pad = new byte[options.ExternalDataAlignment];
            ModelTensors.ForEach(stripped, (t, _) =>
            {
                var type = (ElementType)t.DataType;
                if (type is ElementType.String or ElementType.Undefined || !TensorProtoConverter.HasData(t)) return;
                long size = ElementTypes.ByteCount(type, TensorProtoConverter.ElementCount(t));
                if (size < options.ExternalDataThreshold) return;
                var raw = t.HasRawData ? t.RawData.Span : TensorProtoConverter.ToTensor(t).RawData;
                long aligned = (offset + options.ExternalDataAlignment - 1) / options.ExternalDataAlignment * options.ExternalDataAlignment;
                data.Write(pad, 0, (int)(aligned - offset));
                data.Write(raw);
                ClearData(t);
                t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = dataName.Replace('\\', '/') });
                t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = aligned.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = raw.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                t.DataLocation = TensorProto.Types.DataLocation.External;
                offset = aligned + raw.Length;
            });
            data.Flush(flushToDisk: true);
        }
        EnsureInlineable(stripped, path, options.MessageLimit);
        using (var stream = writer.Create(path))
        {
            stripped.WriteTo(stream);
            stream.Flush(flushToDisk: true);
        }
        writer.Commit();
    }

    /// <summary>Total bytes of tensor data held inline (raw or typed fields) in the model.</summary>
    public static long InlineDataBytes(ModelProto model)
    {
        long total = 0;
        ModelTensors.ForEach(model, (t, _) =>
        {
            if (ExternalData.IsExternal(t)) return;
            total += t.RawData.Length + 4L * t.FloatData.Count + 4L * t.Int32Data.Count + 8L * t.Int64Data.Count
                     + 8L * t.DoubleData.Count + 8L * t.Uint64Data.Count;
            foreach (var s in t.StringData) total += s.Length;
        });
        return total;
    }

    private static void EnsureInlineable(ModelProto model, string target, long limit = ProtobufLimit)
    {
        if (InlineDataBytes(model) > limit - Math.Min(1L << 20, limit / 1024))
            throw new UnsupportedModelException($"{target}: the model holds more than 2 GiB of tensor data inline; save it to a file with external data.");
    }

    private static void CheckNoExternalReferences(ModelProto model, string target)
    {
        ModelTensors.ForEach(model, (t, where) =>
        {
            if (ExternalData.IsExternal(t))
                throw new UnsupportedModelException($"{target}: {where} still refers to external data that was not loaded; load the model with LoadExternalData = true before saving.");
        });
    }

    private static void ClearData(TensorProto t)
    {
        t.ClearRawData();
        t.FloatData.Clear();
        t.Int32Data.Clear();
        t.Int64Data.Clear();
        t.DoubleData.Clear();
        t.Uint64Data.Clear();
    }
}
