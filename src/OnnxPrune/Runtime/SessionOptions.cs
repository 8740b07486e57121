using System.Runtime.InteropServices;
using System.Text;
using OnnxPrune.Runtime.Native;

namespace OnnxPrune.Runtime;

/// <summary>How much ONNX Runtime rewrites the graph before running it (<c>GraphOptimizationLevel</c>).</summary>
public enum GraphOptimizationLevel
{
    /// <summary>No graph optimizations.</summary>
    DisableAll = 0,
    /// <summary>Basic, provider-independent rewrites (constant folding, redundant node removal).</summary>
    Basic = 1,
    /// <summary>Basic plus extended fusions.</summary>
    Extended = 2,
    /// <summary>All optimizations, including layout ones (ORT's default).</summary>
    All = 99,
}

/// <summary>Where the graph runs.</summary>
public enum ExecutionProvider
{
    /// <summary>ONNX Runtime's CPU provider (always available).</summary>
    Cpu,
    /// <summary>NVIDIA CUDA; needs a CUDA build of ONNX Runtime (set <c>ONNXPRUNE_ORT_LIBRARY</c> to it) and CUDA libraries.</summary>
    Cuda,
}

/// <summary>Settings for an <see cref="InferenceSession"/>; the defaults are ONNX Runtime's own.</summary>
public sealed record SessionOptions
{
    /// <summary>Threads used inside one operator; 0 lets ONNX Runtime choose (one per physical core).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>Threads used to run independent operators in parallel; 0 lets ONNX Runtime choose. Only used with <see cref="ParallelExecution"/>.</summary>
    public int InterOpThreads { get; init; }

    /// <summary>Run independent branches of the graph in parallel (<c>ORT_PARALLEL</c>) instead of sequentially.</summary>
    public bool ParallelExecution { get; init; }

    /// <summary>
    /// Whether idle intra-op threads spin waiting for work (<c>session.intra_op.allow_spinning</c>); null keeps
    /// ORT's default (spin). Turn it off when several sessions or processes share the CPU, e.g. while benchmarking.
    /// </summary>
    public bool? AllowSpinning { get; init; }

    /// <summary>Graph optimization level (default <see cref="GraphOptimizationLevel.All"/>).</summary>
    public GraphOptimizationLevel OptimizationLevel { get; init; } = GraphOptimizationLevel.All;

    /// <summary>The execution provider (default CPU).</summary>
    public ExecutionProvider Provider { get; init; } = ExecutionProvider.Cpu;

    /// <summary>CUDA device index when <see cref="Provider"/> is <see cref="ExecutionProvider.Cuda"/>.</summary>
    public int CudaDeviceId { get; init; }

    /// <summary>When set, ONNX Runtime writes a JSON profile whose file name starts with this prefix (see <see cref="InferenceSession.EndProfiling"/>).</summary>
    public string? ProfilingFilePrefix { get; init; }

    /// <summary>Values for symbolic dimensions known ahead of time (<c>AddFreeDimensionOverrideByName</c>), e.g. <c>batch = 1</c>.</summary>
    public IReadOnlyDictionary<string, long>? FreeDimensions { get; init; }

    /// <summary>Extra session configuration entries (<c>AddSessionConfigEntry</c>), e.g. <c>session.intra_op.allow_spinning</c>.</summary>
    public IReadOnlyDictionary<string, string>? ConfigEntries { get; init; }

    /// <summary>Builds the native options object.</summary>
    /// <exception cref="OnnxRuntimeException">ONNX Runtime rejects an option, or CUDA is requested but not available.</exception>
    internal unsafe OrtSessionOptionsHandle CreateNative()
    {
        var api = OrtApi.Instance;
        var handle = new OrtSessionOptionsHandle();
        IntPtr options;
        OrtStatus.Check(api.CreateSessionOptions(&options));
        handle.Attach(options);
        try
        {
            if (IntraOpThreads < 0) throw new ArgumentOutOfRangeException(nameof(IntraOpThreads), IntraOpThreads, "Thread count must be >= 0.");
            if (InterOpThreads < 0) throw new ArgumentOutOfRangeException(nameof(InterOpThreads), InterOpThreads, "Thread count must be >= 0.");
            OrtStatus.Check(api.SetSessionLogSeverityLevel(options, 3 /* ERROR */));
            OrtStatus.Check(api.SetIntraOpNumThreads(options, IntraOpThreads));
            OrtStatus.Check(api.SetInterOpNumThreads(options, InterOpThreads));
            OrtStatus.Check(api.SetSessionExecutionMode(options, ParallelExecution ? 1 : 0));
            OrtStatus.Check(api.SetSessionGraphOptimizationLevel(options, (int)OptimizationLevel));
            if (AllowSpinning is bool spin) AddConfig(api, options, "session.intra_op.allow_spinning", spin ? "1" : "0");
            if (ConfigEntries != null)
                foreach (var (key, value) in ConfigEntries) AddConfig(api, options, key, value);
            if (FreeDimensions != null)
                foreach (var (name, value) in FreeDimensions)
                {
                    fixed (byte* n = Utf8(name))
                        OrtStatus.Check(api.AddFreeDimensionOverrideByName(options, n, value), $"free dimension '{name}'");
                }
            if (ProfilingFilePrefix != null)
            {
                var prefix = NativePath(ProfilingFilePrefix);
                fixed (byte* p = prefix) OrtStatus.Check(api.EnableProfiling(options, p));
            }
            if (Provider == ExecutionProvider.Cuda) AppendCuda(api, options);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private unsafe void AppendCuda(OrtApi api, IntPtr options)
    {
        var providers = api.AvailableProviders();
        if (!providers.Contains("CUDAExecutionProvider"))
            throw new OnnxRuntimeException(OrtErrorCode.NotImplemented,
                $"The CUDA execution provider is not in the loaded ONNX Runtime ({OrtNativeLibrary.LoadedPath}, " +
                $"version {api.VersionString}; available: {string.Join(", ", providers)}). " +
                $"Set {OrtNativeLibrary.EnvironmentVariable} to a CUDA build of libonnxruntime (e.g. from onnxruntime-gpu) or use the CPU provider.");
        try
        {
            using var cuda = new OrtCudaProviderOptionsHandle();
            IntPtr cudaOptions;
            OrtStatus.Check(api.CreateCUDAProviderOptions(&cudaOptions), "creating CUDA provider options");
            cuda.Attach(cudaOptions);
            fixed (byte* key = "device_id\0"u8)
            fixed (byte* value = Utf8(CudaDeviceId.ToString(System.Globalization.CultureInfo.InvariantCulture)))
            {
                byte* k = key, v = value;
                OrtStatus.Check(api.UpdateCUDAProviderOptions(cudaOptions, &k, &v, 1), "setting CUDA device");
            }
            OrtStatus.Check(api.SessionOptionsAppendExecutionProvider_CUDA_V2(options, cudaOptions), "enabling the CUDA execution provider");
        }
        catch (OnnxRuntimeException e)
        {
            // e.g. onnxruntime-node lists CUDA but lacks libonnxruntime_providers_cuda, or CUDA/cuDNN are missing.
            throw new OnnxRuntimeException(e.ErrorCode,
                $"The CUDA execution provider could not be enabled (ONNX Runtime {api.VersionString} at {OrtNativeLibrary.LoadedPath}): {e.Message} " +
                $"Install CUDA and cuDNN matching that build, or set {OrtNativeLibrary.EnvironmentVariable} to a CUDA build of libonnxruntime " +
                "(with its libonnxruntime_providers_*.so next to it), or use the CPU provider.", e);
        }
    }

    private static unsafe void AddConfig(OrtApi api, IntPtr options, string key, string value)
    {
        fixed (byte* k = Utf8(key))
        fixed (byte* v = Utf8(value))
            OrtStatus.Check(api.AddSessionConfigEntry(options, k, v), $"session config '{key}'");
    }

    /// <summary>Null-terminated UTF-8 bytes.</summary>
    internal static byte[] Utf8(string text)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
        Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }

    /// <summary>A file path as ORTCHAR_T: UTF-16 on Windows, UTF-8 elsewhere; null-terminated.</summary>
    internal static byte[] NativePath(string path)
    {
        if (!OperatingSystem.IsWindows()) return Utf8(path);
        var bytes = new byte[(path.Length + 1) * 2];
        MemoryMarshal.AsBytes(path.AsSpan()).CopyTo(bytes);
        return bytes;
    }
}
