using System.Runtime.InteropServices;
using OnnxPrune.Runtime.Native;
using OnnxPrune.Tensors;

namespace OnnxPrune.Runtime;

/// <summary>
/// A loaded model ready to run on ONNX Runtime (<c>OrtSession</c>).
/// </summary>
/// <remarks>
/// <see cref="Run"/> may be called from several threads at once: each call uses only its own buffers.
/// Inputs are passed to ONNX Runtime without copying (the managed arrays are pinned for the call); outputs are
/// copied into new <see cref="Tensor"/>s that the caller owns. For many runs with the same shapes, use
/// <see cref="CreateBinding"/>. Disposal is safe in any order relative to the environment and to bindings:
/// the native session is released when its last user is done.
/// </remarks>
public sealed class InferenceSession : IDisposable
{
    private readonly OrtSessionHandle _handle;
    private int _disposed;
    private readonly Dictionary<string, int> _inputIndex = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _outputIndex = new(StringComparer.Ordinal);

    /// <summary>Creates a session from a serialized model held in memory (no temporary file is written).</summary>
    /// <param name="model">The ModelProto bytes.</param>
    /// <param name="options">Session settings; null for ONNX Runtime's defaults.</param>
    /// <param name="environment">The environment; null for <see cref="OrtEnvironment.Shared"/>.</param>
    /// <exception cref="OnnxRuntimeException">ONNX Runtime cannot load the model (message says why).</exception>
    public unsafe InferenceSession(byte[] model, SessionOptions? options = null, OrtEnvironment? environment = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        Options = options ?? new SessionOptions();
        _handle = Create(environment, Options, (api, env, opts, result) =>
        {
            fixed (byte* data = model)
                return api.CreateSessionFromArray(env, data, (nuint)model.Length, opts, result);
        }, "loading model from memory");
        try { (Inputs, Outputs) = ReadMetadata(); }
        catch
        {
            _handle.Dispose();
            throw;
        }
    }

    /// <summary>Creates a session from a model file (external data is resolved relative to the file).</summary>
    /// <param name="modelPath">Path to the .onnx file.</param>
    /// <param name="options">Session settings; null for ONNX Runtime's defaults.</param>
    /// <param name="environment">The environment; null for <see cref="OrtEnvironment.Shared"/>.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="OnnxRuntimeException">ONNX Runtime cannot load the model (message says why).</exception>
    public unsafe InferenceSession(string modelPath, SessionOptions? options = null, OrtEnvironment? environment = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        if (!File.Exists(modelPath)) throw new FileNotFoundException($"Model file not found: {modelPath}", modelPath);
        Options = options ?? new SessionOptions();
        ModelPath = modelPath;
        var nativePath = SessionOptions.NativePath(Path.GetFullPath(modelPath));
        _handle = Create(environment, Options, (api, env, opts, result) =>
        {
            fixed (byte* p = nativePath)
                return api.CreateSession(env, p, opts, result);
        }, $"loading {modelPath}");
        try { (Inputs, Outputs) = ReadMetadata(); }
        catch
        {
            _handle.Dispose();
            throw;
        }
    }

    /// <summary>The settings this session was created with.</summary>
    public SessionOptions Options { get; }

    /// <summary>The model file, when created from a path.</summary>
    public string? ModelPath { get; }

    /// <summary>The inputs the caller must feed (initializers are not listed), in model order.</summary>
    public IReadOnlyList<ValueMetadata> Inputs { get; }

    /// <summary>The model outputs, in model order.</summary>
    public IReadOnlyList<ValueMetadata> Outputs { get; }

    internal OrtSessionHandle Handle => _handle;

    /// <summary>True after <see cref="Dispose"/>.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    private unsafe delegate IntPtr CreateCall(OrtApi api, IntPtr env, IntPtr options, IntPtr* result);

    private static unsafe OrtSessionHandle Create(OrtEnvironment? environment, SessionOptions options, CreateCall call, string context)
    {
        var api = OrtApi.Instance;
        var env = environment ?? OrtEnvironment.Shared;
        if (env.IsDisposed) throw new ObjectDisposedException(nameof(OrtEnvironment));
        var handle = new OrtSessionHandle();
        using var nativeOptions = options.CreateNative();
        bool envRef = false;
        env.Handle.DangerousAddRef(ref envRef);
        try
        {
            IntPtr session;
            OrtStatus.Check(call(api, env.Handle.DangerousGetHandle(), nativeOptions.DangerousGetHandle(), &session), context);
            handle.Attach(session);
            handle.HoldEnvironment(env.Handle);
            return handle;
        }
        finally
        {
            if (envRef) env.Handle.DangerousRelease();
        }
    }

    private unsafe (IReadOnlyList<ValueMetadata>, IReadOnlyList<ValueMetadata>) ReadMetadata()
    {
        var api = OrtApi.Instance;
        var session = _handle.DangerousGetHandle();
        nuint inputCount, outputCount;
        OrtStatus.Check(api.SessionGetInputCount(session, &inputCount));
        OrtStatus.Check(api.SessionGetOutputCount(session, &outputCount));
        // The native name copies belong to the session handle from the start, so it frees them even if a read fails.
        _handle.InputNames = new IntPtr[(int)inputCount];
        _handle.OutputNames = new IntPtr[(int)outputCount];
        var inputs = ReadValues(api, session, api.SessionGetInputName, api.SessionGetInputTypeInfo, _inputIndex, _handle.InputNames);
        var outputs = ReadValues(api, session, api.SessionGetOutputName, api.SessionGetOutputTypeInfo, _outputIndex, _handle.OutputNames);
        return (inputs, outputs);
    }

    // Inputs and outputs are read the same way, each through its own pair of ORT functions; nativeNames (owned by
    // the session handle) receives a UTF-8 copy of each name for Run.
    private static unsafe ValueMetadata[] ReadValues(OrtApi api, IntPtr session,
        delegate* unmanaged<IntPtr, nuint, IntPtr, byte**, IntPtr> getName,
        delegate* unmanaged<IntPtr, nuint, IntPtr*, IntPtr> getTypeInfo,
        Dictionary<string, int> index, IntPtr[] nativeNames)
    {
        var values = new ValueMetadata[nativeNames.Length];
        for (int i = 0; i < values.Length; i++)
        {
            byte* name;
            OrtStatus.Check(getName(session, (nuint)i, api.DefaultAllocator, &name));
            var text = api.TakeAllocatedString(name);
            IntPtr typeInfo;
            OrtStatus.Check(getTypeInfo(session, (nuint)i, &typeInfo));
            values[i] = Describe(api, text, typeInfo);
            nativeNames[i] = Marshal.StringToCoTaskMemUTF8(text);
            index[text] = i;
        }
        return values;
    }

    private static unsafe ValueMetadata Describe(OrtApi api, string name, IntPtr typeInfoPointer)
    {
        using var typeInfo = new OrtTypeInfoHandle();
        typeInfo.Attach(typeInfoPointer);
        int onnxType;
        OrtStatus.Check(api.GetOnnxTypeFromTypeInfo(typeInfoPointer, &onnxType));
        var kind = (OnnxValueKind)onnxType;
        if (kind != OnnxValueKind.Tensor) return new ValueMetadata(name, kind, ElementType.Undefined, [], []);
        IntPtr tensorInfo; // owned by typeInfo: not released separately
        OrtStatus.Check(api.CastTypeInfoToTensorInfo(typeInfoPointer, &tensorInfo));
        var (elementType, dims, symbolic) = ReadTensorInfo(api, tensorInfo, withSymbols: true);
        return new ValueMetadata(name, kind, elementType, dims, symbolic!);
    }

    internal static unsafe (ElementType, long[], string?[]?) ReadTensorInfo(OrtApi api, IntPtr info, bool withSymbols)
    {
        int type;
        OrtStatus.Check(api.GetTensorElementType(info, &type));
        nuint rank;
        OrtStatus.Check(api.GetDimensionsCount(info, &rank));
        var dims = new long[(int)rank];
        fixed (long* d = dims) OrtStatus.Check(api.GetDimensions(info, d, rank));
        string?[]? symbolic = null;
        if (withSymbols)
        {
            symbolic = new string?[(int)rank];
            var pointers = new IntPtr[(int)rank];
            fixed (IntPtr* p = pointers) OrtStatus.Check(api.GetSymbolicDimensions(info, (byte**)p, rank));
            for (int i = 0; i < pointers.Length; i++)
            {
                var s = pointers[i] == IntPtr.Zero ? null : Marshal.PtrToStringUTF8(pointers[i]);
                symbolic[i] = string.IsNullOrEmpty(s) ? null : s;
            }
        }
        return ((ElementType)type, dims, symbolic);
    }

    /// <summary>Text listing the model's inputs, e.g. <c>x: float[batch,3,32,32], y: int64[2]</c>.</summary>
    public string DescribeInputs() => Inputs.Count == 0 ? "(no inputs)" : string.Join(", ", Inputs);

    /// <summary>Text listing the model's outputs.</summary>
    public string DescribeOutputs() => Outputs.Count == 0 ? "(no outputs)" : string.Join(", ", Outputs);

    /// <summary>
    /// Runs the model. Every model input must be given, with the declared element type and rank and matching
    /// every fixed dimension.
    /// </summary>
    /// <param name="inputs">Input tensors by name (not copied: pinned for the duration of the call).</param>
    /// <param name="outputNames">Outputs to compute; null for all, in model order.</param>
    /// <returns>New tensors owned by the caller, keyed by output name, in the requested order.</returns>
    /// <exception cref="OnnxRuntimeException">Inputs do not match the model (the message lists what it expects), or ONNX Runtime fails.</exception>
    /// <exception cref="ObjectDisposedException">The session was disposed.</exception>
    public unsafe IReadOnlyDictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs, string[]? outputNames = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        var inputOrder = ValidateInputs(inputs);
        var outputOrder = ResolveOutputs(outputNames);
        var api = OrtApi.Instance;

        bool sessionRef = false;
        int n = inputOrder.Length, m = outputOrder.Length;
        var pins = new GCHandle[n];
        var values = new OrtValueHandle?[n];
        var namePointers = new IntPtr[n];
        var valuePointers = new IntPtr[n];
        var outputNamePointers = new IntPtr[m];
        var outputValues = new IntPtr[m];
        try
        {
            _handle.DangerousAddRef(ref sessionRef);
            for (int i = 0; i < n; i++)
            {
                var (index, tensor) = inputOrder[i];
                pins[i] = GCHandle.Alloc(tensor.RawData, GCHandleType.Pinned);
                values[i] = CreateTensorValue(api, (byte*)pins[i].AddrOfPinnedObject(), tensor.RawData.LongLength, tensor.Dims, tensor.ElementType);
                namePointers[i] = _handle.InputNames[index];
                valuePointers[i] = values[i]!.DangerousGetHandle();
            }
            for (int j = 0; j < m; j++) outputNamePointers[j] = _handle.OutputNames[outputOrder[j]];

            fixed (IntPtr* inNames = namePointers)
            fixed (IntPtr* inValues = valuePointers)
            fixed (IntPtr* outNames = outputNamePointers)
            fixed (IntPtr* outValues = outputValues)
            {
                OrtStatus.Check(api.Run(_handle.DangerousGetHandle(), IntPtr.Zero, inNames, inValues, (nuint)n, outNames, (nuint)m, outValues), RunContext());
            }

            var result = new OrderedOutputs(m);
            for (int j = 0; j < m; j++)
                result.Add(Outputs[outputOrder[j]].Name, CopyToTensor(api, outputValues[j], Outputs[outputOrder[j]].Name));
            return result;
        }
        finally
        {
            foreach (var v in outputValues) if (v != IntPtr.Zero) api.ReleaseValue(v);
            foreach (var v in values) v?.Dispose();
            foreach (var p in pins) if (p.IsAllocated) p.Free();
            if (sessionRef) _handle.DangerousRelease();
        }
    }

    private string RunContext() => ModelPath == null ? "running model" : $"running {ModelPath}";

    /// <summary>
    /// Creates a reusable binding for repeated runs with the same input shapes: its input tensors (copies of
    /// <paramref name="inputs"/>, in pinned memory) are refilled by the caller and its output tensors are
    /// allocated once and overwritten by each <see cref="RunBinding.Run"/>.
    /// </summary>
    /// <param name="inputs">Initial input values; they fix the shapes.</param>
    /// <param name="outputNames">Outputs to compute; null for all.</param>
    /// <exception cref="OnnxRuntimeException">Inputs do not match the model.</exception>
    public RunBinding CreateBinding(IReadOnlyDictionary<string, Tensor> inputs, string[]? outputNames = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        var inputOrder = ValidateInputs(inputs);
        var outputOrder = ResolveOutputs(outputNames);
        return new RunBinding(this, inputOrder, outputOrder);
    }

    /// <summary>Stops profiling and returns the profile file's path (needs <see cref="SessionOptions.ProfilingFilePrefix"/>).</summary>
    /// <exception cref="OnnxRuntimeException">ONNX Runtime fails.</exception>
    public unsafe string EndProfiling()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        var api = OrtApi.Instance;
        byte* path;
        OrtStatus.Check(api.SessionEndProfiling(_handle.DangerousGetHandle(), api.DefaultAllocator, &path));
        return api.TakeAllocatedString(path);
    }

    internal (int Index, Tensor Tensor)[] ValidateInputs(IReadOnlyDictionary<string, Tensor> inputs)
    {
        var order = new (int, Tensor)[inputs.Count];
        int k = 0;
        foreach (var (name, tensor) in inputs)
        {
            if (!_inputIndex.TryGetValue(name, out int index))
                throw Mismatch($"Unknown input '{name}'.");
            ArgumentNullException.ThrowIfNull(tensor, name);
            var meta = Inputs[index];
            if (meta.Kind != OnnxValueKind.Tensor)
                throw Mismatch($"Input '{name}' is a {meta.TypeText}; only tensors can be passed.");
            bool ok = tensor.ElementType == meta.ElementType && tensor.Rank == meta.Shape.Count;
            for (int d = 0; ok && d < tensor.Rank; d++)
                if (meta.Shape[d] >= 0 && meta.Shape[d] != tensor.Dims[d]) ok = false;
            if (!ok)
                throw Mismatch($"Input '{name}' is {tensor} but the model expects {meta.TypeText}.");
            order[k++] = (index, tensor);
        }
        if (inputs.Count != Inputs.Count)
        {
            var missing = Inputs.Where(i => !inputs.ContainsKey(i.Name)).Select(i => i.Name);
            throw Mismatch($"Missing input(s): {string.Join(", ", missing)}.");
        }
        return order;
    }

    internal int[] ResolveOutputs(string[]? outputNames)
    {
        if (outputNames == null) return Enumerable.Range(0, Outputs.Count).ToArray();
        var order = new int[outputNames.Length];
        for (int j = 0; j < outputNames.Length; j++)
        {
            if (!_outputIndex.TryGetValue(outputNames[j], out order[j]))
                throw new OnnxRuntimeException(OrtErrorCode.InvalidArgument,
                    $"Unknown output '{outputNames[j]}'. The model's outputs: {DescribeOutputs()}.");
        }
        return order;
    }

    private OnnxRuntimeException Mismatch(string what) =>
        new(OrtErrorCode.InvalidArgument, $"{what} The model expects: {DescribeInputs()}.");

    internal static unsafe OrtValueHandle CreateTensorValue(OrtApi api, byte* data, long byteLength, ReadOnlySpan<long> shape, ElementType type)
    {
        var handle = new OrtValueHandle();
        IntPtr value;
        fixed (long* dims = shape)
        {
            // A zero-length span may give a null pointer; ORT wants a valid shape pointer even for scalars.
            long dummy = 0;
            long* shapePointer = dims == null ? &dummy : dims;
            byte dummyData = 0;
            byte* dataPointer = data == null ? &dummyData : data;
            OrtStatus.Check(api.CreateTensorWithDataAsOrtValue(api.CpuMemoryInfo, dataPointer, (nuint)byteLength, shapePointer, (nuint)shape.Length, (int)type, &value));
        }
        handle.Attach(value);
        return handle;
    }

    internal static unsafe (ElementType Type, long[] Dims) ReadValueShape(OrtApi api, IntPtr value, string name)
    {
        int valueType;
        OrtStatus.Check(api.GetValueType(value, &valueType));
        if ((OnnxValueKind)valueType != OnnxValueKind.Tensor)
            throw new OnnxRuntimeException(OrtErrorCode.NotImplemented,
                $"Output '{name}' is a {(OnnxValueKind)valueType}; OnnxPrune only returns tensors.");
        IntPtr info;
        OrtStatus.Check(api.GetTensorTypeAndShape(value, &info));
        using var infoHandle = new OrtTensorTypeAndShapeInfoHandle();
        infoHandle.Attach(info);
        var (type, dims, _) = ReadTensorInfo(api, info, withSymbols: false);
        if (ElementTypes.ByteCount(type, 1) == 0)
            throw new OnnxRuntimeException(OrtErrorCode.NotImplemented, $"Output '{name}' has element type {type}, which OnnxPrune tensors cannot hold.");
        return (type, dims);
    }

    private static unsafe Tensor CopyToTensor(OrtApi api, IntPtr value, string name)
    {
        var (type, dims) = ReadValueShape(api, value, name);
        long count = Tensor.CountElements(dims);
        var bytes = new byte[ElementTypes.ByteCount(type, count)];
        if (bytes.Length > 0)
        {
            void* data;
            OrtStatus.Check(api.GetTensorMutableData(value, &data));
            new ReadOnlySpan<byte>(data, bytes.Length).CopyTo(bytes);
        }
        return new Tensor(type, dims, bytes);
    }

    /// <summary>Releases the session (native memory is freed once bindings created from it are disposed too).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) _handle.Dispose();
    }

    /// <summary>A read-only dictionary that keeps insertion order (outputs in the requested order).</summary>
    private sealed class OrderedOutputs(int capacity) : IReadOnlyDictionary<string, Tensor>
    {
        private readonly List<KeyValuePair<string, Tensor>> _items = new(capacity);
        private readonly Dictionary<string, Tensor> _map = new(capacity, StringComparer.Ordinal);

        public void Add(string name, Tensor tensor)
        {
            if (_map.TryAdd(name, tensor)) _items.Add(new(name, tensor));
        }

        public Tensor this[string key] => _map[key];
        public IEnumerable<string> Keys => _items.Select(p => p.Key);
        public IEnumerable<Tensor> Values => _items.Select(p => p.Value);
        public int Count => _items.Count;
        public bool ContainsKey(string key) => _map.ContainsKey(key);
        public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out Tensor value) => _map.TryGetValue(key, out value);
        public IEnumerator<KeyValuePair<string, Tensor>> GetEnumerator() => _items.GetEnumerator();
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
