using Microsoft.ML.OnnxRuntime;
using OnnxPrune.Graph;

namespace OnnxPrune.Runtime;

/// <summary>
/// Creates ONNX Runtime's <see cref="InferenceSession"/>s from OnnxPrune's in-memory models, model bytes or files,
/// with <see cref="SessionSettings"/> presets, turning ONNX Runtime's errors into <see cref="OrtCallException"/>.
/// </summary>
/// <remarks>
/// The sessions are the official type: run them with <see cref="InferenceSession.Run(RunOptions, IReadOnlyCollection{string}, IReadOnlyCollection{OrtValue}, IReadOnlyCollection{string})"/>
/// and <see cref="OrtValue"/>s, or with OnnxPrune tensors through <see cref="SessionExtensions.RunTensors"/>.
/// Which native library runs them is the application's choice (the NuGet package it references: Microsoft.ML.OnnxRuntime
/// for CPU, Microsoft.ML.OnnxRuntime.Gpu for CUDA); OnnxPrune references only Microsoft.ML.OnnxRuntime.Managed.
/// </remarks>
public static class OrtSessions
{
    /// <summary>Creates a session for <paramref name="model"/> from its serialized bytes (no temporary file is written).</summary>
    /// <exception cref="OrtCallException">ONNX Runtime cannot load the model or enable the provider (message says why).</exception>
    public static InferenceSession Create(OnnxModel model, SessionSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Create(model.ToBytes(), settings);
    }

    /// <summary>Creates a session from serialized ModelProto bytes held in memory.</summary>
    /// <exception cref="OrtCallException">ONNX Runtime cannot load the model or enable the provider (message says why).</exception>
    public static InferenceSession Create(byte[] model, SessionSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var options = (settings ?? new SessionSettings()).CreateSessionOptions();
        try { return new InferenceSession(model, options); }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e) { throw OrtCallException.From(e, "loading model from memory"); }
    }

    /// <summary>Creates a session from a model file (external data is resolved relative to the file).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="OrtCallException">ONNX Runtime cannot load the model or enable the provider (message says why).</exception>
    public static InferenceSession Create(string modelPath, SessionSettings? settings = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        if (!File.Exists(modelPath)) throw new FileNotFoundException($"Model file not found: {modelPath}", modelPath);
        using var options = (settings ?? new SessionSettings()).CreateSessionOptions();
        try { return new InferenceSession(modelPath, options); }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e) { throw OrtCallException.From(e, $"loading {modelPath}"); }
    }

    /// <summary>The loaded native ONNX Runtime's version, e.g. "1.32.0".</summary>
    public static string RuntimeVersion => OrtEnv.Instance().GetVersionString();

    /// <summary>The execution providers compiled into the loaded native library, e.g. "CPUExecutionProvider", "CUDAExecutionProvider".</summary>
    public static IReadOnlyList<string> AvailableProviders => OrtEnv.Instance().GetAvailableProviders();
}
