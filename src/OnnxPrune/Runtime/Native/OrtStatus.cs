using System.Runtime.InteropServices;

namespace OnnxPrune.Runtime.Native;

/// <summary>The one place an <c>OrtStatus*</c> becomes an exception; the status is always released.</summary>
internal static unsafe class OrtStatus
{
    /// <summary>Does nothing for a null status (success); otherwise throws <see cref="OnnxRuntimeException"/> with ORT's code and message.</summary>
    /// <exception cref="OnnxRuntimeException">The status reports an error.</exception>
    public static void Check(IntPtr status)
    {
        if (status == IntPtr.Zero) return;
        throw ToException(OrtApi.Instance, status, null);
    }

    /// <summary>Same as <see cref="Check(IntPtr)"/> with an explicit table (used while the table itself is being built).</summary>
    /// <exception cref="OnnxRuntimeException">The status reports an error.</exception>
    public static void Check(OrtApi api, IntPtr status)
    {
        if (status == IntPtr.Zero) return;
        throw ToException(api, status, null);
    }

    /// <summary>Like <see cref="Check(IntPtr)"/>, with a prefix naming what was being done (e.g. the model).</summary>
    /// <exception cref="OnnxRuntimeException">The status reports an error.</exception>
    public static void Check(IntPtr status, string context)
    {
        if (status == IntPtr.Zero) return;
        throw ToException(OrtApi.Instance, status, context);
    }

    private static OnnxRuntimeException ToException(OrtApi api, IntPtr status, string? context)
    {
        OrtErrorCode code;
        string message;
        try
        {
            code = (OrtErrorCode)api.GetErrorCode(status);
            message = Marshal.PtrToStringUTF8((IntPtr)api.GetErrorMessage(status)) ?? "";
        }
        finally
        {
            api.ReleaseStatus(status);
        }
        var text = context == null ? $"ONNX Runtime {code}: {message}" : $"{context}: ONNX Runtime {code}: {message}";
        return new OnnxRuntimeException(code, text);
    }
}
