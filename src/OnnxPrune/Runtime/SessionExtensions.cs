using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using OnnxPrune.Tensors;

namespace OnnxPrune.Runtime;

/// <summary>Running ONNX Runtime's <see cref="InferenceSession"/> on OnnxPrune <see cref="Tensor"/>s, and readable metadata.</summary>
public static class SessionExtensions
{
    /// <summary>
    /// Runs the model on OnnxPrune tensors. Every model input must be given, with the declared element type and rank
    /// and matching every fixed dimension; otherwise the error lists what the model expects.
    /// </summary>
    /// <remarks>
    /// Thread-safe (ONNX Runtime's <c>Run</c> is). Inputs are not copied: their arrays are pinned for the call and
    /// wrapped in <see cref="OrtValue"/>s. Outputs are copied into new tensors owned by the caller. For many runs with
    /// the same shapes, <see cref="CreateBinding"/> avoids the per-run allocations.
    /// </remarks>
    /// <param name="session">The session.</param>
    /// <param name="inputs">Input tensors by name.</param>
    /// <param name="outputNames">Outputs to compute; null for all, in model order.</param>
    /// <returns>New tensors keyed by output name, in the requested order.</returns>
    /// <exception cref="OrtCallException">Inputs do not match the model (the message lists what it expects), or ONNX Runtime fails.</exception>
    public static IReadOnlyDictionary<string, Tensor> RunTensors(this InferenceSession session, IReadOnlyDictionary<string, Tensor> inputs, string[]? outputNames = null)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(inputs);
        var names = ValidateInputs(session, inputs);
        var outputs = ResolveOutputs(session, outputNames);
        int n = names.Length;
        var pins = new GCHandle[n];
        var values = new OrtValue[n];
        try
        {
            for (int i = 0; i < n; i++)
            {
                var tensor = inputs[names[i]];
                pins[i] = GCHandle.Alloc(tensor.RawData, GCHandleType.Pinned);
                values[i] = OrtTensors.CreatePinnedView(tensor.ElementType, tensor.Dims.ToArray(), tensor.RawData);
            }
            using var runOptions = new RunOptions();
            using var results = Call(() => session.Run(runOptions, names, values, outputs), "running model");
            var result = new OrderedOutputs(outputs.Length);
            int j = 0;
            foreach (var value in results) { result.Add(outputs[j], OrtTensors.ToTensor(value, outputs[j])); j++; }
            return result;
        }
        finally
        {
            foreach (var v in values) v?.Dispose();
            foreach (var p in pins) if (p.IsAllocated) p.Free();
        }
    }

    /// <summary>
    /// Creates a reusable binding for repeated runs with the same input shapes (e.g. a training loop); see <see cref="RunBinding"/>.
    /// </summary>
    /// <param name="session">The session; it must outlive the binding.</param>
    /// <param name="inputs">Initial input values; they fix the shapes (copied into the binding's pinned buffers).</param>
    /// <param name="outputNames">Outputs to compute; null for all.</param>
    /// <exception cref="OrtCallException">Inputs do not match the model.</exception>
    public static RunBinding CreateBinding(this InferenceSession session, IReadOnlyDictionary<string, Tensor> inputs, string[]? outputNames = null)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(inputs);
        var names = ValidateInputs(session, inputs);
        var outputs = ResolveOutputs(session, outputNames);
        return new RunBinding(session, names.Select(n => (n, inputs[n])).ToArray(), outputs);
    }

    /// <summary>Text listing the model's inputs, e.g. <c>x: float[batch,3,32,32], y: int64[2]</c>.</summary>
    public static string DescribeInputs(this InferenceSession session) =>
        session.InputNames.Count == 0 ? "(no inputs)" : string.Join(", ", session.InputNames.Select(n => $"{n}: {session.InputMetadata[n].TypeText()}"));

    /// <summary>Text listing the model's outputs.</summary>
    public static string DescribeOutputs(this InferenceSession session) =>
        session.OutputNames.Count == 0 ? "(no outputs)" : string.Join(", ", session.OutputNames.Select(n => $"{n}: {session.OutputMetadata[n].TypeText()}"));

    /// <summary>Readable type, e.g. <c>float[batch,3,32,32]</c> (symbolic names or <c>?</c> for dynamic dimensions) or <c>sequence</c>.</summary>
    public static string TypeText(this NodeMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (metadata.OnnxValueType != OnnxValueType.ONNX_TYPE_TENSOR)
            return metadata.OnnxValueType.ToString().Replace("ONNX_TYPE_", "", StringComparison.Ordinal).ToLowerInvariant();
        var dims = metadata.Dimensions.Select((d, i) => d >= 0 ? d.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : i < metadata.SymbolicDimensions.Length && !string.IsNullOrEmpty(metadata.SymbolicDimensions[i]) ? metadata.SymbolicDimensions[i] : "?");
        return ElementTypes.OnnxName(metadata.OnnxPruneElementType()) + "[" + string.Join(",", dims) + "]";
    }

    /// <summary>The tensor element type as OnnxPrune's <see cref="ElementType"/> (<see cref="ElementType.Undefined"/> for non-tensors).</summary>
    public static ElementType OnnxPruneElementType(this NodeMetadata metadata) =>
        metadata.OnnxValueType == OnnxValueType.ONNX_TYPE_TENSOR ? (ElementType)(int)metadata.ElementDataType : ElementType.Undefined;

    /// <summary>Runs an ONNX Runtime call, turning its exception into <see cref="OrtCallException"/> with <paramref name="context"/>.</summary>
    internal static T Call<T>(Func<T> call, string context)
    {
        try { return call(); }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e) { throw OrtCallException.From(e, context); }
    }

    /// <summary>Checks the feeds against the model; returns the input names in model order.</summary>
    internal static string[] ValidateInputs(InferenceSession session, IReadOnlyDictionary<string, Tensor> inputs)
    {
        var meta = session.InputMetadata;
        foreach (var (name, tensor) in inputs)
        {
            if (!meta.TryGetValue(name, out var m))
                throw Mismatch(session, $"Unknown input '{name}'.");
            ArgumentNullException.ThrowIfNull(tensor, name);
            if (m.OnnxValueType != OnnxValueType.ONNX_TYPE_TENSOR)
                throw Mismatch(session, $"Input '{name}' is a {m.TypeText()}; only tensors can be passed.");
            var dims = m.Dimensions;
            bool ok = tensor.ElementType == m.OnnxPruneElementType() && tensor.Rank == dims.Length;
            for (int d = 0; ok && d < tensor.Rank; d++)
                if (dims[d] >= 0 && dims[d] != tensor.Dims[d]) ok = false;
            if (!ok)
                throw Mismatch(session, $"Input '{name}' is {tensor} but the model expects {m.TypeText()}.");
        }
        if (inputs.Count != session.InputNames.Count)
        {
            var missing = session.InputNames.Where(i => !inputs.ContainsKey(i));
            throw Mismatch(session, $"Missing input(s): {string.Join(", ", missing)}.");
        }
        return session.InputNames.ToArray();
    }

    internal static string[] ResolveOutputs(InferenceSession session, string[]? outputNames)
    {
        if (outputNames == null) return session.OutputNames.ToArray();
        foreach (var name in outputNames)
            if (!session.OutputMetadata.ContainsKey(name))
                throw new OrtCallException(OrtErrorCode.InvalidArgument, $"Unknown output '{name}'. The model's outputs: {session.DescribeOutputs()}.");
        return outputNames.Distinct(StringComparer.Ordinal).ToArray();
    }

    private static OrtCallException Mismatch(InferenceSession session, string what) =>
        new(OrtErrorCode.InvalidArgument, $"{what} The model expects: {session.DescribeInputs()}.");

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
        public bool TryGetValue(string key, [MaybeNullWhen(false)] out Tensor value) => _map.TryGetValue(key, out value);
        public IEnumerator<KeyValuePair<string, Tensor>> GetEnumerator() => _items.GetEnumerator();
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
