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
