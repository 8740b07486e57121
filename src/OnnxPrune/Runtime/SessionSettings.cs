using Microsoft.ML.OnnxRuntime;

namespace OnnxPrune.Runtime;

/// <summary>Where a session's graph runs.</summary>
public enum ExecutionProvider
{
    /// <summary>ONNX Runtime's CPU provider (every native package has it).</summary>
    Cpu,
    /// <summary>NVIDIA CUDA: needs the GPU native package (Microsoft.ML.OnnxRuntime.Gpu) and CUDA 13 + cuDNN 9 on the machine.</summary>
    Cuda,
}

/// <summary>
/// OnnxPrune's session presets, turned into ONNX Runtime's own <see cref="SessionOptions"/> by
/// <see cref="CreateSessionOptions"/>; the defaults are ONNX Runtime's, except that session logging is limited to errors.
/// </summary>
/// <remarks>
/// What this adds to <see cref="SessionOptions"/>: a value type that can be copied with <c>with</c> (the trainer
/// derives its session settings from the caller's), the spinning switch as a property, execution providers by name
/// (<see cref="ParseProvider"/>), and one clear error when CUDA cannot be enabled. Callers who need more set up a
/// <see cref="SessionOptions"/> themselves and pass it to <see cref="OrtSessions"/>.
/// </remarks>
public sealed record SessionSettings
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

    /// <summary>Graph optimization level (default <see cref="GraphOptimizationLevel.ORT_ENABLE_ALL"/>).</summary>
    public GraphOptimizationLevel OptimizationLevel { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>The execution provider (default CPU).</summary>
    public ExecutionProvider Provider { get; init; } = ExecutionProvider.Cpu;

    /// <summary>CUDA device index when <see cref="Provider"/> is <see cref="ExecutionProvider.Cuda"/>.</summary>
    public int CudaDeviceId { get; init; }

    /// <summary>When set, ONNX Runtime writes a JSON profile whose file name starts with this prefix (<see cref="InferenceSession.EndProfiling"/> returns its path).</summary>
    public string? ProfilingFilePrefix { get; init; }

    /// <summary>Values for symbolic dimensions known ahead of time (<c>AddFreeDimensionOverrideByName</c>), e.g. <c>batch = 1</c>.</summary>
    public IReadOnlyDictionary<string, long>? FreeDimensions { get; init; }

    /// <summary>Extra session configuration entries (<c>AddSessionConfigEntry</c>), e.g. <c>session.intra_op.allow_spinning</c>.</summary>
    public IReadOnlyDictionary<string, string>? ConfigEntries { get; init; }

    /// <summary>Parses a provider name: <c>cpu</c> or <c>cuda</c> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">Another name.</exception>
    public static ExecutionProvider ParseProvider(string name) => name.ToLowerInvariant() switch
    {
        "cpu" => ExecutionProvider.Cpu,
        "cuda" => ExecutionProvider.Cuda,
        _ => throw new ArgumentException($"Unknown execution provider '{name}'; expected cpu or cuda.", nameof(name)),
    };

    /// <summary>Builds ONNX Runtime's options object (the caller disposes it; a session does not need it after creation).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative thread count.</exception>
    /// <exception cref="OrtCallException">ONNX Runtime rejects an option, or CUDA is requested but cannot be enabled (the message names the missing library and the package to use).</exception>
    public SessionOptions CreateSessionOptions()
    {
        if (IntraOpThreads < 0) throw new ArgumentOutOfRangeException(nameof(IntraOpThreads), IntraOpThreads, "Thread count must be >= 0.");
        if (InterOpThreads < 0) throw new ArgumentOutOfRangeException(nameof(InterOpThreads), InterOpThreads, "Thread count must be >= 0.");
        var options = NewSessionOptions();
        try
        {
            options.LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;
            options.IntraOpNumThreads = IntraOpThreads;
            options.InterOpNumThreads = InterOpThreads;
            options.ExecutionMode = ParallelExecution ? ExecutionMode.ORT_PARALLEL : ExecutionMode.ORT_SEQUENTIAL;
            options.GraphOptimizationLevel = OptimizationLevel;
            if (AllowSpinning is bool spin) options.AddSessionConfigEntry("session.intra_op.allow_spinning", spin ? "1" : "0");
            if (ConfigEntries != null)
                foreach (var (key, value) in ConfigEntries) options.AddSessionConfigEntry(key, value);
            if (FreeDimensions != null)
                foreach (var (name, value) in FreeDimensions) options.AddFreeDimensionOverrideByName(name, value);
            if (ProfilingFilePrefix != null)
            {
                options.EnableProfiling = true;
                options.ProfileOutputPathPrefix = ProfilingFilePrefix;
            }
            if (Provider == ExecutionProvider.Cuda) AppendCuda(options, CudaDeviceId);
            return options;
        }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e)
        {
            options.Dispose();
            throw OrtCallException.From(e, "setting session options");
        }
        catch
        {
            options.Dispose();
            throw;
        }
    }

    /// <summary>ONNX Runtime's options object; the first one loads the native library, whose absence becomes one clear error.</summary>
    private static SessionOptions NewSessionOptions()
    {
        try { return new SessionOptions(); }
        catch (Exception e) when (e is DllNotFoundException || e.InnerException is DllNotFoundException)
        {
            throw new OrtCallException(OrtErrorCode.NoSuchFile,
                "The ONNX Runtime native library (libonnxruntime) was not found next to the application or on the library path. " +
                $"The application must reference a native ONNX Runtime package matching Microsoft.ML.OnnxRuntime.Managed {typeof(SessionOptions).Assembly.GetName().Version?.ToString(3)}: " +
                "Microsoft.ML.OnnxRuntime (CPU) or Microsoft.ML.OnnxRuntime.Gpu (CUDA); rebuild with `dotnet build` after adding it. " +
                $"({(e.InnerException ?? e).Message})", e);
        }
    }

    /// <summary>The native package a build of this process would need for CUDA.</summary>
    internal const string GpuPackageHint =
        "CUDA needs the GPU native package: build with -p:OnnxRuntimeFlavor=Gpu (Microsoft.ML.OnnxRuntime.Gpu, " +
        "Microsoft.ML.OnnxRuntime.Gpu.Linux on Linux, instead of the CPU package Microsoft.ML.OnnxRuntime) and install " +
        "CUDA 13 and cuDNN 9; or use --provider cpu.";

    private static void AppendCuda(SessionOptions options, int deviceId)
    {
        var providers = OrtSessions.AvailableProviders;
        if (!providers.Contains("CUDAExecutionProvider"))
            throw new OrtCallException(OrtErrorCode.EpFail,
                $"The CUDA execution provider is not in the loaded ONNX Runtime {OrtSessions.RuntimeVersion} (providers: {string.Join(", ", providers)}; " +
                $"missing library libonnxruntime_providers_cuda). {GpuPackageHint}");
        try
        {
            using var cuda = new OrtCUDAProviderOptions();
            cuda.UpdateOptions(new Dictionary<string, string> { ["device_id"] = deviceId.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            options.AppendExecutionProvider_CUDA(cuda);
        }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e)
        {
            var (code, text) = OrtCallException.ParseMessage(e.Message);
            var missing = System.Text.RegularExpressions.Regex.Match(text, @"([\w.+-]+\.(?:so(?:\.\d+)*|dll))\s*:\s*cannot open shared object file");
            var library = missing.Success ? $"missing library {missing.Groups[1].Value}. " : "";
            throw new OrtCallException(code == OrtErrorCode.Ok ? OrtErrorCode.EpFail : code,
                $"The CUDA execution provider could not be enabled (ONNX Runtime {OrtSessions.RuntimeVersion}): {library}" +
                "The GPU package (Microsoft.ML.OnnxRuntime.Gpu, the -p:OnnxRuntimeFlavor=Gpu build) is in use: install CUDA 13 and cuDNN 9 " +
                $"where the loader finds them (e.g. LD_LIBRARY_PATH), or use --provider cpu. ONNX Runtime said: {text}", e);
        }
    }
}
