using OnnxPrune.Onnx;
using OnnxPrune.Onnx.Proto;

namespace OnnxPrune.Graph;

/// <summary>
/// A whole model in the IR: the main <see cref="Graph"/> plus everything else the file holds (opsets,
/// producer, metadata, functions, training info, unknown fields), kept and written back untouched.
/// </summary>
public sealed class OnnxModel
{
    private readonly ModelProto _template;

    private OnnxModel(ModelProto template, Graph graph)
    {
        _template = template;
        Graph = graph;
    }

    /// <summary>Creates an empty model importing the default ONNX domain at <paramref name="opset"/>.</summary>
    public OnnxModel(int opset = 17, long irVersion = 8)
    {
        _template = new ModelProto { IrVersion = irVersion, ProducerName = "OnnxPrune" };
        _template.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        Graph = new Graph();
    }

    /// <summary>The main graph.</summary>
    public Graph Graph { get; }

    /// <summary>Where the model was loaded from, if from a file.</summary>
    public string? SourcePath { get; private set; }

    /// <summary>The IR version.</summary>
    public long IrVersion { get => _template.IrVersion; set => _template.IrVersion = value; }

    /// <summary>Producer name.</summary>
    public string ProducerName { get => _template.ProducerName; set => _template.ProducerName = value; }

    /// <summary>Producer version.</summary>
    public string ProducerVersion { get => _template.ProducerVersion; set => _template.ProducerVersion = value; }

    /// <summary>Imported operator sets: domain ("" = default ONNX domain) → version.</summary>
    public IReadOnlyDictionary<string, long> Opsets =>
        _template.OpsetImport.GroupBy(o => o.Domain == "ai.onnx" ? "" : o.Domain).ToDictionary(g => g.Key, g => g.Max(o => o.Version));

    /// <summary>The opset version of a domain, or 0 when not imported.</summary>
    public long GetOpset(string domain = "") => Opsets.GetValueOrDefault(domain == "ai.onnx" ? "" : domain);

    /// <summary>Sets the opset version of a domain.</summary>
    public void SetOpset(string domain, long version)
    {
        var existing = _template.OpsetImport.FirstOrDefault(o => o.Domain == domain);
        if (existing is null) _template.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });
        else existing.Version = version;
    }

    /// <summary>Model metadata (metadata_props) as a copy.</summary>
    public IReadOnlyDictionary<string, string> Metadata => _template.MetadataProps.GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Last().Value);

    /// <summary>Sets a metadata entry.</summary>
    public void SetMetadata(string key, string value)
    {
        var existing = _template.MetadataProps.FirstOrDefault(p => p.Key == key);
        if (existing is null) _template.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        else existing.Value = value;
    }

    /// <summary>Number of model-local functions (kept untouched).</summary>
    public int FunctionCount => _template.Functions.Count;

    /// <summary>Builds the IR over a model message (tensor bytes are shared, not copied).</summary>
    public static OnnxModel FromProto(ModelProto proto) => FromProto(proto, ownsData: false);

    // ownsData: the message is this library's own (just loaded, seen by no caller), so decoded initializers may use its
    // raw_data arrays as their storage instead of copying them (see ConstantTensor).
    private static OnnxModel FromProto(ModelProto proto, bool ownsData)
    {
        ArgumentNullException.ThrowIfNull(proto);
        if (proto.Graph is null) throw new OnnxFormatException("Model has no graph.");
        var template = proto.Clone();
        template.Graph = null;
        return new OnnxModel(template, Graph.FromProto(proto.Graph, ownsData));
    }

    /// <summary>Writes the model back to a message.</summary>
    public ModelProto ToProto() => ToProto(shareData: false);

    // With shareData, tensors built or edited in code are wrapped, not copied: only for messages serialized at once.
    private ModelProto ToProto(bool shareData)
    {
        var proto = _template.Clone();
        proto.Graph = Graph.ToProto(shareData);
        return proto;
    }

    /// <summary>Loads a model file (external data relative to its folder) and builds the IR.</summary>
    /// <exception cref="OnnxFormatException">The file is not a valid model.</exception>
    public static OnnxModel Load(string path, ModelLoadOptions? options = null)
    {
        var model = FromProto(ModelIO.Load(path, options), path, ownsData: true);
        model.SourcePath = Path.GetFullPath(path);
        return model;
    }

    /// <summary>Loads a model from bytes and builds the IR.</summary>
    public static OnnxModel FromBytes(byte[] bytes, string sourceName = "<bytes>") =>
        FromProto(ModelIO.Load(bytes, null, sourceName), sourceName, ownsData: true);

    /// <summary>Serializes the model with all data inline.</summary>
    public byte[] ToBytes() => ModelIO.ToBytes(ToProto(shareData: true));

    /// <summary>Saves the model atomically (see <see cref="ModelSaveOptions"/> for external data).</summary>
    /// <remarks>Weights are written straight from the tensors, without an extra copy in memory.</remarks>
    public void Save(string path, ModelSaveOptions? options = null) => ModelIO.Save(ToProto(shareData: true), path, options);

    private static OnnxModel FromProto(ModelProto proto, string source, bool ownsData)
    {
        try { return FromProto(proto, ownsData); }
        catch (OnnxFormatException e) when (!e.Message.StartsWith(source, StringComparison.Ordinal))
        {
            throw new OnnxFormatException($"{source}: {e.Message}", e);
        }
    }

}
