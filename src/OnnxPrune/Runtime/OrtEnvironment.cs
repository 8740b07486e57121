using OnnxPrune.Runtime.Native;

namespace OnnxPrune.Runtime;

/// <summary>
/// The ONNX Runtime environment (<c>OrtEnv</c>): one per process, shared by every <see cref="InferenceSession"/>.
/// </summary>
/// <remarks>
/// Sessions keep the native environment alive while they exist, so disposing the environment before its
/// sessions is safe: the native object is released after the last session. After <see cref="Dispose"/>,
/// <see cref="Shared"/> creates a fresh environment.
/// </remarks>
public sealed class OrtEnvironment : IDisposable
{
    private static readonly object Gate = new();
    private static OrtEnvironment? _shared;

    private int _disposed;

    private OrtEnvironment(OrtEnvHandle handle) => Handle = handle;

    internal OrtEnvHandle Handle { get; }

    /// <summary>The process-wide environment (created on first use; loads the native library).</summary>
    /// <exception cref="OnnxRuntimeException">The native library cannot be found or initialised.</exception>
    public static OrtEnvironment Shared
    {
        get
        {
            lock (Gate)
            {
                if (_shared == null || _shared.IsDisposed) _shared = Create();
                return _shared;
            }
        }
    }

    /// <summary>The loaded ONNX Runtime's version, e.g. "1.30.0".</summary>
    public static string RuntimeVersion => OrtApi.Instance.VersionString;

    /// <summary>The file the native library was loaded from.</summary>
    public static string LibraryPath
    {
        get
        {
            _ = OrtApi.Instance;
            return OrtNativeLibrary.LoadedPath ?? "";
        }
    }

    /// <summary>The execution providers compiled into the loaded library, e.g. "CPUExecutionProvider", "CUDAExecutionProvider".</summary>
    public static IReadOnlyList<string> AvailableProviders => OrtApi.Instance.AvailableProviders();

    /// <summary>True once this environment has been disposed (sessions created earlier keep working).</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    private static unsafe OrtEnvironment Create()
    {
        var api = OrtApi.Instance;
        var handle = new OrtEnvHandle();
        IntPtr env;
        fixed (byte* logId = "onnxprune\0"u8)
            OrtStatus.Check(api.CreateEnv(3 /* ORT_LOGGING_LEVEL_ERROR */, logId, &env), "creating the ONNX Runtime environment");
        handle.Attach(env);
        return new OrtEnvironment(handle);
    }

    /// <summary>Releases this handle to the environment (the native object lives on while sessions use it).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) Handle.Dispose();
    }
}
