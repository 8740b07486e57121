namespace OnnxPrune.Onnx;

/// <summary>How <see cref="ModelIO"/> loads a model.</summary>
public sealed record ModelLoadOptions
{
    /// <summary>Default options: load external data, validate the graph.</summary>
    public static ModelLoadOptions Default { get; } = new();

    /// <summary>Read tensors stored in external files into memory (default true). When false they stay references.</summary>
    public bool LoadExternalData { get; init; } = true;

    /// <summary>Check the graph's structure (defined inputs, unique names, no cycles, tensor sizes) (default true).</summary>
    public bool Validate { get; init; } = true;
}

/// <summary>How <see cref="ModelIO"/> saves a model.</summary>
public sealed record ModelSaveOptions
{
    /// <summary>Default options: external data only when the model would not fit in one protobuf message.</summary>
    public static ModelSaveOptions Default { get; } = new();

    /// <summary>Where tensor data goes.</summary>
    public ExternalDataMode ExternalData { get; init; } = ExternalDataMode.Auto;

    /// <summary>File name (relative to the model's folder) of the external data file; default: model file name + ".data".</summary>
    public string? ExternalDataFileName { get; init; }

    /// <summary>Tensors with at least this many bytes of data go to the external file (default 1 KiB).</summary>
    public long ExternalDataThreshold { get; init; } = 1024;

    /// <summary>Alignment of each tensor's offset in the external file (default 4096, so it can be memory-mapped).</summary>
    public int ExternalDataAlignment { get; init; } = 4096;

    /// <summary>The largest message <see cref="ModelIO"/> writes (protobuf's 2 GiB limit); lowered only by tests
    /// so that the switch to external data can be checked without gigabytes of weights.</summary>
    internal long MessageLimit { get; init; } = ModelIO.ProtobufLimit;
}

/// <summary>Where <see cref="ModelIO"/> puts tensor data.</summary>
public enum ExternalDataMode
{
    /// <summary>Inline, unless the serialized model would exceed protobuf's 2 GiB message limit; then external.</summary>
    Auto,
    /// <summary>Everything inline; fails if the model would exceed 2 GiB.</summary>
    Inline,
    /// <summary>Tensors at or above the threshold go to the external data file.</summary>
    External,
}
