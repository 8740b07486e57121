using OnnxPrune.Runtime.Native;
using OnnxPrune.Tensors;

namespace OnnxPrune.Runtime;

/// <summary>
/// A reusable set of input and output buffers for running one session many times with the same shapes
/// (e.g. a training loop): no per-run allocation, no per-run pinning, no output copies after the first run.
/// </summary>
/// <remarks>
/// The caller refills <see cref="Inputs"/> in place (e.g. <c>binding.Inputs["x"].AsSpan&lt;float&gt;()</c>) and calls
/// <see cref="Run"/>; results appear in <see cref="Outputs"/>, overwritten by the next run. The tensors live in the
/// pinned object heap and stay valid (as plain managed tensors) after disposal. A binding is not thread-safe; use
/// one binding per thread. It keeps its session's native object alive until disposed.
/// </remarks>
public sealed class RunBinding : IDisposable
{
    private readonly InferenceSession _session;
    private readonly OrtSessionHandle _sessionHandle;
    private readonly IntPtr[] _inputNames;
    private readonly IntPtr[] _inputValues;
    private readonly OrtValueHandle[] _inputHandles;
    private readonly IntPtr[] _outputNames;
    private readonly IntPtr[] _outputValues;
    private readonly OrtValueHandle?[] _outputHandles;
    private readonly string[] _outputNameText;
    private readonly Dictionary<string, Tensor> _inputs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Tensor> _outputs = new(StringComparer.Ordinal);
    private bool _sessionRef;
    private bool _outputsBound;
    private bool _disposed;

    internal unsafe RunBinding(InferenceSession session, (int Index, Tensor Tensor)[] inputs, int[] outputs)
    {
        _session = session;
        _sessionHandle = session.Handle;
        var api = OrtApi.Instance;
        _inputNames = new IntPtr[inputs.Length];
        _inputValues = new IntPtr[inputs.Length];
        _inputHandles = new OrtValueHandle[inputs.Length];
        _outputNames = new IntPtr[outputs.Length];
        _outputValues = new IntPtr[outputs.Length];
        _outputHandles = new OrtValueHandle?[outputs.Length];
        _outputNameText = new string[outputs.Length];
        _sessionHandle.DangerousAddRef(ref _sessionRef);
        try
        {
            for (int i = 0; i < inputs.Length; i++)
            {
                var (index, source) = inputs[i];
                var tensor = PinnedCopy(source.ElementType, source.Dims, source.RawData);
                _inputs[session.Inputs[index].Name] = tensor;
                _inputHandles[i] = CreateValue(api, tensor);
                _inputValues[i] = _inputHandles[i].DangerousGetHandle();
                _inputNames[i] = _sessionHandle.InputNames[index];
            }
            for (int j = 0; j < outputs.Length; j++)
            {
                _outputNames[j] = _sessionHandle.OutputNames[outputs[j]];
                _outputNameText[j] = session.Outputs[outputs[j]].Name;
            }
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
    /// <exception cref="OnnxRuntimeException">ONNX Runtime fails.</exception>
    /// <exception cref="ObjectDisposedException">The binding was disposed.</exception>
    public unsafe void Run()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var api = OrtApi.Instance;
        if (!_outputsBound) Array.Clear(_outputValues);
        fixed (IntPtr* inNames = _inputNames)
        fixed (IntPtr* inValues = _inputValues)
        fixed (IntPtr* outNames = _outputNames)
        fixed (IntPtr* outValues = _outputValues)
        {
            OrtStatus.Check(api.Run(_sessionHandle.DangerousGetHandle(), IntPtr.Zero, inNames, inValues, (nuint)_inputNames.Length,
                outNames, (nuint)_outputNames.Length, outValues), "running bound session");
        }
        if (_outputsBound) return;

        // First run: ORT allocated the outputs. Copy them into pinned tensors and bind those for later runs.
        try
        {
            for (int j = 0; j < _outputValues.Length; j++)
            {
                var (type, dims) = InferenceSession.ReadValueShape(api, _outputValues[j], _outputNameText[j]);
                var bytes = GC.AllocateUninitializedArray<byte>(checked((int)ElementTypes.ByteCount(type, Tensor.CountElements(dims))), pinned: true);
                if (bytes.Length > 0)
                {
                    void* data;
                    OrtStatus.Check(api.GetTensorMutableData(_outputValues[j], &data));
                    new ReadOnlySpan<byte>(data, bytes.Length).CopyTo(bytes);
                }
                var tensor = new Tensor(type, dims, bytes);
                _outputs[_outputNameText[j]] = tensor;
                _outputHandles[j] = CreateValue(api, tensor);
            }
        }
        finally
        {
            for (int j = 0; j < _outputValues.Length; j++)
            {
                if (_outputValues[j] != IntPtr.Zero) api.ReleaseValue(_outputValues[j]);
                _outputValues[j] = IntPtr.Zero;
            }
        }
        for (int j = 0; j < _outputValues.Length; j++) _outputValues[j] = _outputHandles[j]!.DangerousGetHandle();
        _outputsBound = true;
    }

    private static Tensor PinnedCopy(ElementType type, ReadOnlySpan<long> dims, byte[] data)
    {
        var bytes = GC.AllocateUninitializedArray<byte>(data.Length, pinned: true);
        data.CopyTo(bytes, 0);
        return new Tensor(type, dims, bytes);
    }

    private static unsafe OrtValueHandle CreateValue(OrtApi api, Tensor tensor)
    {
        // The array lives in the pinned object heap: its address is stable for the tensor's whole life.
        fixed (byte* data = tensor.RawData)
            return InferenceSession.CreateTensorValue(api, data, tensor.RawData.LongLength, tensor.Dims, tensor.ElementType);
    }

    /// <summary>Releases this binding's hold on the session if it was never disposed (its values finalize on their own).</summary>
    ~RunBinding()
    {
        if (_sessionRef) _sessionHandle.DangerousRelease();
    }

    /// <summary>Releases the native values and this binding's hold on the session.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        GC.SuppressFinalize(this);
        foreach (var h in _inputHandles) h?.Dispose();
        foreach (var h in _outputHandles) h?.Dispose();
        if (_sessionRef)
        {
            _sessionRef = false;
            _sessionHandle.DangerousRelease();
        }
    }
}
