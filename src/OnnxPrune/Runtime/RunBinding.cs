using Microsoft.ML.OnnxRuntime;
using OnnxPrune.Tensors;

namespace OnnxPrune.Runtime;

/// <summary>
/// Reusable input and output buffers for running one ONNX Runtime <see cref="InferenceSession"/> many times with
/// the same shapes (e.g. a training loop), through ONNX Runtime's <see cref="OrtIoBinding"/>: no per-run allocation,
/// no per-run pinning, no output copies after the first run.
/// </summary>
/// <remarks>
/// Inputs and outputs are OnnxPrune <see cref="Tensor"/>s whose arrays live in the pinned object heap; each is bound
/// once as an <see cref="OrtValue"/> over that memory. The caller refills <see cref="Inputs"/> in place (e.g.
/// <c>binding.Inputs["x"].AsSpan&lt;float&gt;()</c>) and calls <see cref="Run"/>; ONNX Runtime writes the results
/// straight into <see cref="Outputs"/>, overwritten by the next run. The first run lets ONNX Runtime allocate the
/// outputs (their shapes are not known before), copies them once into pinned tensors and binds those. The tensors
/// stay valid (as plain managed tensors) after disposal. A binding is not thread-safe; use one per thread. The
/// session must outlive the binding.
/// </remarks>
public sealed class RunBinding : IDisposable
{
    private readonly InferenceSession _session;
    private readonly OrtIoBinding _io;
    private readonly RunOptions _runOptions = new();
    private readonly OrtValue[] _inputValues;
    private readonly OrtValue?[] _outputValues;
    private readonly string[] _outputNames;
    private readonly Dictionary<string, Tensor> _inputs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Tensor> _outputs = new(StringComparer.Ordinal);
    private bool _outputsBound;
    private bool _disposed;

    internal RunBinding(InferenceSession session, (string Name, Tensor Tensor)[] inputs, string[] outputs)
    {
        _session = session;
        _outputNames = outputs;
        _inputValues = new OrtValue[inputs.Length];
        _outputValues = new OrtValue?[outputs.Length];
        _io = SessionExtensions.Call(session.CreateIoBinding, "creating an I/O binding");
        try
        {
            for (int i = 0; i < inputs.Length; i++)
            {
                var (name, source) = inputs[i];
                var tensor = OrtTensors.PinnedCopy(source);
                _inputs[name] = tensor;
                _inputValues[i] = OrtTensors.CreatePinnedView(tensor.ElementType, tensor.Dims.ToArray(), tensor.RawData);
                SessionExtensions.Call(() => { _io.BindInput(name, _inputValues[i]); return 0; }, $"binding input '{name}'");
            }
            foreach (var name in outputs)
                SessionExtensions.Call(() => { _io.BindOutputToDevice(name, OrtMemoryInfo.DefaultInstance); return 0; }, $"binding output '{name}'");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The session this binding runs.</summary>
    public InferenceSession Session => _session;

    /// <summary>The input tensors to refill before each <see cref="Run"/> (shapes are fixed).</summary>
    public IReadOnlyDictionary<string, Tensor> Inputs => _inputs;

    /// <summary>The outputs of the last <see cref="Run"/> (empty before the first one); overwritten by each run.</summary>
    public IReadOnlyDictionary<string, Tensor> Outputs => _outputs;

    /// <summary>Copies <paramref name="value"/> into the bound input <paramref name="name"/> (same type and shape required).</summary>
    /// <exception cref="ArgumentException">Unknown name, or type/shape differ from the bound tensor.</exception>
    public void SetInput(string name, Tensor value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!_inputs.TryGetValue(name, out var bound))
            throw new ArgumentException($"Unknown input '{name}'. Bound inputs: {string.Join(", ", _inputs.Select(p => $"{p.Key}: {p.Value}"))}.", nameof(name));
        if (bound.ElementType != value.ElementType || !bound.Dims.SequenceEqual(value.Dims))
            throw new ArgumentException($"Input '{name}' is bound as {bound}; got {value}.", nameof(value));
        value.RawData.CopyTo(bound.RawData, 0);
    }

    /// <summary>Runs the session on the current input values.</summary>
    /// <exception cref="OrtCallException">ONNX Runtime fails.</exception>
    /// <exception cref="ObjectDisposedException">The binding was disposed.</exception>
    public void Run()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        try
        {
            _session.RunWithBinding(_runOptions, _io);
        }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e)
        {
            throw OrtCallException.From(e, "running bound session");
        }
        if (!_outputsBound) BindOutputs();
    }

    // First run: ONNX Runtime allocated the outputs. Copy them into pinned tensors and bind those for later runs.
    private void BindOutputs()
    {
        using (var produced = SessionExtensions.Call(_io.GetOutputValues, "reading bound outputs"))
        {
            int j = 0;
            foreach (var value in produced)
            {
                var tensor = OrtTensors.PinnedCopy(OrtTensors.ToTensor(value, _outputNames[j]));
                _outputs[_outputNames[j]] = tensor;
                _outputValues[j] = OrtTensors.CreatePinnedView(tensor.ElementType, tensor.Dims.ToArray(), tensor.RawData);
                j++;
            }
        }
        _io.ClearBoundOutputs();
        for (int j = 0; j < _outputNames.Length; j++)
        {
            int k = j;
            SessionExtensions.Call(() => { _io.BindOutput(_outputNames[k], _outputValues[k]!); return 0; }, $"binding output '{_outputNames[k]}'");
        }
        _outputsBound = true;
    }

    /// <summary>Releases the native binding and values (the tensors stay usable as managed data).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _io?.Dispose();
        _runOptions.Dispose();
        foreach (var v in _inputValues) v?.Dispose();
        foreach (var v in _outputValues) v?.Dispose();
    }
}
