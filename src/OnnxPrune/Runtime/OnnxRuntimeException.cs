namespace OnnxPrune.Runtime;

/// <summary>ONNX Runtime's error codes (<c>OrtErrorCode</c> in the C API), numbered as in the C header.</summary>
public enum OrtErrorCode
{
    /// <summary>No error (<c>ORT_OK</c>).</summary>
    Ok = 0,
    /// <summary>Generic failure (<c>ORT_FAIL</c>).</summary>
    Fail = 1,
    /// <summary>An argument was invalid, e.g. a wrong input name or shape (<c>ORT_INVALID_ARGUMENT</c>).</summary>
    InvalidArgument = 2,
    /// <summary>A file was not found (<c>ORT_NO_SUCHFILE</c>); also used by OnnxPrune when the native library is missing.</summary>
    NoSuchFile = 3,
    /// <summary>No model loaded (<c>ORT_NO_MODEL</c>).</summary>
    NoModel = 4,
    /// <summary>Engine error (<c>ORT_ENGINE_ERROR</c>).</summary>
    EngineError = 5,
    /// <summary>An exception inside the runtime, e.g. a kernel failure (<c>ORT_RUNTIME_EXCEPTION</c>).</summary>
    RuntimeException = 6,
    /// <summary>The model is not a valid protobuf (<c>ORT_INVALID_PROTOBUF</c>).</summary>
    InvalidProtobuf = 7,
    /// <summary>A model was already loaded (<c>ORT_MODEL_LOADED</c>).</summary>
    ModelLoaded = 8,
    /// <summary>Not implemented, e.g. no kernel for an op or type (<c>ORT_NOT_IMPLEMENTED</c>).</summary>
    NotImplemented = 9,
    /// <summary>The graph is invalid, e.g. an unknown op or a type mismatch (<c>ORT_INVALID_GRAPH</c>).</summary>
    InvalidGraph = 10,
    /// <summary>An execution provider failed (<c>ORT_EP_FAIL</c>).</summary>
    EpFail = 11,
}

/// <summary>
/// An error reported by ONNX Runtime (its status code and message) or found by OnnxPrune while preparing a call
/// to it (missing native library, inputs that do not match the model).
/// </summary>
public class OnnxRuntimeException : OnnxPruneException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="errorCode">ONNX Runtime's error code.</param>
    /// <param name="message">The message (ONNX Runtime's own text where it produced the error).</param>
    /// <param name="inner">The underlying exception, if any.</param>
    public OnnxRuntimeException(OrtErrorCode errorCode, string message, Exception? inner = null)
        : base(message, inner)
    {
        ErrorCode = errorCode;
    }

    /// <summary>ONNX Runtime's error code.</summary>
    public OrtErrorCode ErrorCode { get; }
}
