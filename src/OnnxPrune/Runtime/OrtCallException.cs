using System.Text.RegularExpressions;

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
    /// <summary>A file was not found (<c>ORT_NO_SUCHFILE</c>).</summary>
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
    /// <summary>An execution provider failed or is missing (<c>ORT_EP_FAIL</c>).</summary>
    EpFail = 11,
}

/// <summary>
/// An ONNX Runtime call made by OnnxPrune failed: ONNX Runtime's own error (a
/// <see cref="Microsoft.ML.OnnxRuntime.OnnxRuntimeException"/>, kept as <see cref="Exception.InnerException"/>, its
/// code in <see cref="ErrorCode"/>) or a problem OnnxPrune found while preparing the call (inputs that do not match
/// the model, an execution provider that cannot be enabled).
/// </summary>
public class OrtCallException : OnnxPruneException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="errorCode">ONNX Runtime's error code.</param>
    /// <param name="message">The message (ONNX Runtime's own text where it produced the error).</param>
    /// <param name="inner">The underlying exception, if any.</param>
    public OrtCallException(OrtErrorCode errorCode, string message, Exception? inner = null)
        : base(message, inner)
    {
        ErrorCode = errorCode;
    }

    /// <summary>ONNX Runtime's error code.</summary>
    public OrtErrorCode ErrorCode { get; }

    // The managed API formats its messages as "[ErrorCode:Name] text"; its ErrorCode enum names values 11 and 12
    // (ORT_EP_FAIL, ORT_MODEL_LOAD_CANCELED in the C header) after older codes, so they are mapped by number.
    private static readonly Regex CodePrefix = new(@"^\[ErrorCode:(?<code>[A-Za-z0-9]+)\]\s*", RegexOptions.CultureInvariant);

    /// <summary>
    /// Wraps ONNX Runtime's exception, keeping its code and message; <paramref name="context"/> (e.g. "running
    /// model.onnx") is put in front of the message.
    /// </summary>
    public static OrtCallException From(Microsoft.ML.OnnxRuntime.OnnxRuntimeException e, string? context = null)
    {
        ArgumentNullException.ThrowIfNull(e);
        var (code, text) = ParseMessage(e.Message);
        var message = context is null ? $"ONNX Runtime: {text}" : $"ONNX Runtime error while {context}: {text}";
        return new OrtCallException(code, message, e);
    }

    /// <summary>Splits a managed-API message into its error code and text (code <see cref="OrtErrorCode.Fail"/> when absent).</summary>
    internal static (OrtErrorCode Code, string Text) ParseMessage(string message)
    {
        var m = CodePrefix.Match(message);
        if (!m.Success) return (OrtErrorCode.Fail, message);
        var name = m.Groups["code"].Value;
        var code = name switch
        {
            "ShapeInferenceNotRegistered" => OrtErrorCode.EpFail,
            _ when Enum.TryParse<OrtErrorCode>(name, ignoreCase: false, out var c) && !int.TryParse(name, out _) => c,
            _ when int.TryParse(name, out var n) => (OrtErrorCode)n,
            _ => OrtErrorCode.Fail,
        };
        return (code, message[m.Length..]);
    }
}
