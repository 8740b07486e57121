using System.Security.Cryptography;
using System.Text;
using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Training;

/// <summary>
/// Static type, shape and small-integer value of every value of a model at concrete input shapes, for building training
/// and BN-statistics graphs. The answer comes from the one shape engine (<see cref="ShapeInference"/>, the analysis's
/// op rules, with the input shapes substituted); ONNX Runtime (<see cref="ShapeProbe"/>) is asked only when static
/// inference leaves a value open (an op without a shape rule, a computed multi-dim integer tensor), and then at most
/// once per model structure and input shapes in a process: the probe's answer is cached under a key of the graph's
/// structure (nodes, integer constants, constant shapes, input shapes; not the float weights, which BN recalibration
/// or training change), so a finetune's recalibration and training share one probe.
/// </summary>
internal static class TrainingShapes
{
    private const int SmallIntLimit = 64;
    private const int CacheSize = 4;
    private const long MaxKeyedElements = 4096;
    private static readonly LinkedList<(string Key, Dictionary<string, (ElementType Type, long[] Shape, Tensor? Value)> Result)> Cache = new();
    private static int _probes;

    /// <summary>How many times ONNX Runtime was probed in this process (tests assert on the difference).</summary>
    public static int ProbeCount => Volatile.Read(ref _probes);

    /// <summary>Resolves every value's type and shape (and small integer values) at <paramref name="inputShapes"/>;
    /// the model's data inputs are set to those shapes (the caller's private copy).</summary>
    public static Dictionary<string, (ElementType Type, long[] Shape, Tensor? Value)> Resolve(OnnxModel model, IReadOnlyDictionary<string, long[]> inputShapes)
    {
        var (resolved, complete) = Static(model, inputShapes);
        if (complete) return resolved;
        var key = StructureKey(model, inputShapes);
        lock (Cache)
        {
            for (var n = Cache.First; n is not null; n = n.Next)
                if (n.Value.Key == key) return n.Value.Result;
        }
        var probed = ShapeProbe.Run(model, inputShapes);
        Interlocked.Increment(ref _probes);
        lock (Cache)
        {
            Cache.AddFirst((key, probed));
            while (Cache.Count > CacheSize) Cache.RemoveLast();
        }
        return probed;
    }

    /// <summary>The static answer alone: every named node output and data input whose type, concrete shape and (for
    /// small integer tensors) values the engine knows, and whether that is every one. Sets the data inputs' shapes.</summary>
    internal static (Dictionary<string, (ElementType Type, long[] Shape, Tensor? Value)> Resolved, bool Complete) Static(
        OnnxModel model, IReadOnlyDictionary<string, long[]> inputShapes)
    {
        var g = model.Graph;
        foreach (var input in g.DataInputs)
            if (inputShapes.TryGetValue(input.Name, out var s)) input.Shape = s.Select(d => new Dim(d)).ToArray();
        var info = ShapeInference.InferCore(g, model.GetOpset(""), rules: null, bindings: null, trustDeclaredIntermediates: false);
        var result = new Dictionary<string, (ElementType, long[], Tensor?)>(StringComparer.Ordinal);
        bool complete = true;
        foreach (var v in g.DataInputs.Concat(g.Nodes.SelectMany(n => n.Outputs)))
        {
            if (v is null || v.Name.Length == 0) continue;
            if (v.Constant is { } c)
            {
                bool smallConstant = c.ElementType is ElementType.Int64 or ElementType.Int32 && c.ElementCount <= SmallIntLimit;
                result[v.Name] = (c.ElementType, c.Shape.ToArray(), smallConstant && !v.IsGraphInput ? c.Data : null);
                continue;
            }
            var t = info[v];
            if (t.ElementType == ElementType.Undefined || DimBindings.None.Concrete(t.Shape) is not { } shape) { complete = false; continue; }
            Tensor? value = null;
            long count = shape.Aggregate(1L, (p, d) => p * d);
            if (t.ElementType is ElementType.Int64 or ElementType.Int32 && count <= SmallIntLimit && !g.DataInputs.Contains(v))
            {
                if (t.KnownValues is not { } values || values.Length != count) { complete = false; continue; }
                value = t.ElementType == ElementType.Int64
                    ? Tensor.FromArray<long>(values, shape)
                    : Tensor.FromArray<int>(values.Select(x => checked((int)x)).ToArray(), shape);
            }
            result[v.Name] = (t.ElementType, shape, value);
        }
        return (result, complete);
    }

    // Graph structure without weight values: node protos (Constant nodes only through their constant), every
    // constant's name, type and shape (small integer ones with their data), the opset and the probe input shapes.
    private static string StructureKey(OnnxModel model, IReadOnlyDictionary<string, long[]> inputShapes)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Text(string s) => hash.AppendData(Encoding.UTF8.GetBytes(s + "\n"));
        Text("opset " + model.GetOpset(""));
        foreach (var (name, shape) in inputShapes.OrderBy(p => p.Key, StringComparer.Ordinal)) Text($"in {name} {string.Join(",", shape)}");
        foreach (var c in model.Graph.Constants)
        {
            Text($"const {c.Name} {c.ElementType} {string.Join(",", c.Shape)}");
            // Shape arithmetic reads small integer constants; large integer tensors (quantized weights) add only their shape.
            if (!ElementTypes.IsFloatingPoint(c.ElementType) && c.ElementCount <= MaxKeyedElements) Text(string.Join(",", c.Data.ToInt64ArrayOrEmpty()));
        }
        foreach (var node in model.Graph.Nodes)
        {
            if (node.ConstantOutput is not null) continue;
            hash.AppendData(Google.Protobuf.MessageExtensions.ToByteArray(node.Proto));
        }
        return Convert.ToHexString(hash.GetHashAndReset());
    }

    private static long[] ToInt64ArrayOrEmpty(this Tensor t) =>
        t.ElementType is ElementType.Int64 or ElementType.Int32 or ElementType.Int16 or ElementType.Int8 or ElementType.UInt8 ? t.ToInt64Array() : [];
}
