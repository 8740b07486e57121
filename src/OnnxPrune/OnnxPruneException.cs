namespace OnnxPrune;

/// <summary>Root of every exception OnnxPrune throws on purpose. Messages name the file, node and reason.</summary>
public class OnnxPruneException : Exception
{
    /// <summary>Creates the exception.</summary>
    public OnnxPruneException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>A model file or stream is not a valid ONNX model (bad protobuf, bad external data, broken graph).</summary>
public class OnnxFormatException : OnnxPruneException
{
    /// <summary>Creates the exception.</summary>
    public OnnxFormatException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>The model is valid but uses something OnnxPrune does not support for the requested operation.</summary>
public class UnsupportedModelException : OnnxPruneException
{
    /// <summary>Creates the exception.</summary>
    public UnsupportedModelException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>A pruning request cannot be satisfied (budget, protected units, blocked groups).</summary>
public class PruningConstraintException : OnnxPruneException
{
    /// <summary>Creates the exception.</summary>
    public PruningConstraintException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// A data file (IDX, .npy, classes.txt) or data folder is malformed or does not fit its role: wrong magic, dtype, shape,
/// truncated data, labels out of range. The message names the file and the tensor (images, labels, targets).
/// </summary>
public class DataFormatException : OnnxPruneException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="path">The file (or folder) at fault.</param>
    /// <param name="message">The whole message, naming the file and the tensor.</param>
    /// <param name="inner">The underlying exception, if any.</param>
    public DataFormatException(string path, string message, Exception? inner = null) : base(message, inner) => Path = path;

    /// <summary>The file (or folder) at fault.</summary>
    public string Path { get; }
}

/// <summary>
/// A tensor's element type (or a model input's kind) has no handling for the requested operation: a conversion to
/// float/int64, a random-input generator, a .npy dtype, a fill value. The message names the tensor or input.
/// </summary>
public class UnsupportedElementTypeException : OnnxPruneException
{
    /// <summary>Creates the exception.</summary>
    public UnsupportedElementTypeException(string message, Exception? inner = null) : base(message, inner) { }
}
