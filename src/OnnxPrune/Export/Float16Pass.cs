using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Graph.Passes;
using OnnxPrune.Tensors;

namespace OnnxPrune.Export;

/// <summary>
/// Converts a float32 model to float16: float32 constants, Cast-to-float and ConstantOfShape values become float16, and so
/// every float tensor computed from them. Ops in <see cref="DefaultKeepFloat32Ops"/> (or the list given) stay float32
/// between Casts; with <c>keepIoTypes</c>, float32 graph inputs and outputs keep their type (a Cast follows each input and
/// precedes each output).
/// </summary>
/// <remarks>
/// <para><b>Preconditions</b> (checked before any edit, else <see cref="UnsupportedModelException"/>): no node has subgraphs;
/// no value is already float16; the element type of every float input and output of a kept-float32 op, and of every graph
/// output, is known to the shape engine.</para>
/// <para><b>Guarantee</b>: graph input and output names are unchanged (their types too with <c>keepIoTypes</c>); every
/// float32 weight is rounded to the nearest float16 (relative error ≤ 2⁻¹¹, values beyond ±65504 saturate to ±∞ — the
/// notes count them). Output differences are measured, not guaranteed.</para>
/// </remarks>
public sealed class Float16Pass : IGraphPass
{
    /// <summary>Ops kept in float32 by default: ops whose ONNX schema (at common opsets) has no float16 form or whose float
    /// inputs are index-like (Range, CumSum, NonMaxSuppression, Resize/Upsample scales, RoiAlign rois, TopK).</summary>
    public static IReadOnlySet<string> DefaultKeepFloat32Ops { get; } =
        new HashSet<string>(StringComparer.Ordinal) { "Range", "CumSum", "NonMaxSuppression", "Resize", "Upsample", "RoiAlign", "TopK" };

    private readonly bool _keepIoTypes;
    private readonly IReadOnlySet<string> _keepFloat32;

    /// <summary>Creates the pass.</summary>
    /// <param name="keepIoTypes">Keep float32 graph inputs and outputs (Casts at the boundary).</param>
    /// <param name="keepFloat32Ops">Op types that stay float32; default <see cref="DefaultKeepFloat32Ops"/>.</param>
    public Float16Pass(bool keepIoTypes = false, IReadOnlySet<string>? keepFloat32Ops = null)
    {
        _keepIoTypes = keepIoTypes;
        _keepFloat32 = keepFloat32Ops ?? DefaultKeepFloat32Ops;
    }

    /// <inheritdoc/>
    public string Name => "fp16";

    /// <inheritdoc/>
    public PassResult Run(OnnxModel model, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph;
        if (graph.Nodes.FirstOrDefault(n => n.HasSubgraphs) is { } sub)
            throw new UnsupportedModelException($"{Name}: node {sub.DisplayName} ({sub.OpType}) has subgraphs, which this pass does not convert.");
        var info = ShapeInference.Infer(graph, model.GetOpset(""));
        ElementType TypeOf(Value v) => v.Constant?.ElementType ?? (v.HasType ? v.ElementType : info[v].ElementType);
        if (graph.Values.FirstOrDefault(v => TypeOf(v) == ElementType.Float16) is { } half)
            throw new UnsupportedModelException($"{Name}: value '{half.Name}' is already float16.");
        var kept = graph.Nodes.Where(n => n.IsStandard && _keepFloat32.Contains(n.OpType)).ToArray();
        foreach (var n in kept)
            foreach (var v in n.Inputs.Concat(n.Outputs))
                if (v is not null && TypeOf(v) == ElementType.Undefined)
                    throw new UnsupportedModelException($"{Name}: the element type of '{v.Name}' (at {n.DisplayName}, {n.OpType}) is unknown; it cannot be kept in float32.");
        foreach (var v in graph.Outputs)
            if (TypeOf(v) == ElementType.Undefined)
                throw new UnsupportedModelException($"{Name}: the element type of graph output '{v.Name}' is unknown.");
        // Values that were float32 before any edit (types are read from this snapshot while editing).
        var wasFloat = graph.Values.Where(v => TypeOf(v) == ElementType.Float).ToHashSet();
        var keptSet = kept.ToHashSet();
        var stayFloat = new HashSet<Value>();
        int converted = 0, overflow = 0, casts = 0;

        // 1. Constants: float16 unless only kept-float32 ops read them.
        foreach (var c in graph.Constants.ToArray())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (c.ElementType != ElementType.Float) continue;
            var v = c.Value;
            if (v.Consumers.Count > 0 && v.Consumers.All(keptSet.Contains)) { stayFloat.Add(v); continue; }
            var data = c.Data.ToFloatArray();
            var halves = new Half[data.Length];
            System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(data, halves);
            for (int i = 0; i < data.Length; i++) if (Half.IsInfinity(halves[i]) && float.IsFinite(data[i])) overflow++;
            c.Data = Tensor.FromArray<Half>(halves, c.Shape.ToArray());
            converted++;
        }
        // 2. Ops that create floats from attributes.
        foreach (var n in graph.Nodes.Where(n => n.IsStandard && !keptSet.Contains(n)))
        {
            if (n.OpType == "Cast" && n.Attributes.GetInt("to", 0) == (long)ElementType.Float) n.Attributes.Set("to", (long)ElementType.Float16);
            if (n.OpType == "ConstantOfShape" && n.Attributes.GetTensor("value") is { ElementType: ElementType.Float } t)
                n.Attributes.Set("value", Tensor.FromArray<Half>(t.ToFloatArray().Select(f => (Half)f).ToArray(), t.Shape.ToArray()));
        }
        // 3. Kept-float32 ops: Cast float16 inputs up, float32 outputs down.
        foreach (var n in kept)
        {
            for (int i = 0; i < n.Inputs.Count; i++)
            {
                if (n.Inputs[i] is not { } x || !wasFloat.Contains(x) || stayFloat.Contains(x)) continue;
                var up = AddCast(graph, x, ElementType.Float, x.Name + "_fp32");
                graph.SetInput(n, i, up);
                stayFloat.Add(up);
                casts++;
            }
            foreach (var o in n.Outputs)
            {
                if (o is null || !wasFloat.Contains(o)) continue;
                stayFloat.Add(o);
                var readers = o.Consumers.Where(r => !keptSet.Contains(r)).Distinct().ToArray();
                if (readers.Length == 0) continue;
                var down = AddCast(graph, o, ElementType.Float16, o.Name + "_fp16");
                foreach (var r in readers) Rewire(graph, r, o, down);
                casts++;
            }
        }
        // 4. Graph inputs and outputs.
        foreach (var x in graph.DataInputs.ToArray())
        {
            if (!wasFloat.Contains(x)) continue;
            if (!_keepIoTypes) { x.ElementType = ElementType.Float16; continue; }
            stayFloat.Add(x);
            var readers = x.Consumers.Where(r => !keptSet.Contains(r)).Distinct().ToArray();
            if (readers.Length == 0) continue;
            var down = AddCast(graph, x, ElementType.Float16, x.Name + "_fp16");
            foreach (var r in readers) Rewire(graph, r, x, down);
            casts++;
        }
        foreach (var y in graph.Outputs.ToArray())
        {
            if (!wasFloat.Contains(y) || stayFloat.Contains(y)) continue;
            if (!_keepIoTypes || y.Producer is not { } producer) continue;
            // The Cast takes over y (its name and its place among the graph outputs); the producer writes a float16 copy.
            var cast = graph.AddNode("Cast", [y], [y.Name + "_fp16"]);
            cast.Attributes.Set("to", (long)ElementType.Float);
            var fp16 = cast.Output(0)!;
            graph.SwapOutputs(producer, producer.Outputs.ToList().IndexOf(y), cast, 0);
            foreach (var r in y.Consumers.Where(r => r != cast).Distinct().ToArray()) Rewire(graph, r, y, fp16);
            graph.SetInput(cast, 0, fp16);
            if (y.HasType) fp16.SetTensorType(ElementType.Float16, y.Shape);
            stayFloat.Add(y);
            casts++;
        }
        // 5. Declared types of everything that is now float16.
        foreach (var v in graph.Values.ToArray())
            if (wasFloat.Contains(v) && !stayFloat.Contains(v) && v.HasType && v.Constant is null && v.ElementType == ElementType.Float)
                v.ElementType = ElementType.Float16;
        graph.TopologicalSort();
        var notes = new List<string> { $"{converted} constants to float16, {kept.Length} nodes kept in float32, {casts} Casts added{(_keepIoTypes ? " (float32 inputs and outputs kept)" : "")}" };
        if (overflow > 0) notes.Add($"{overflow} weights beyond ±65504 became ±∞");
        return new PassResult(Name, converted + casts, notes);
    }

    private static Value AddCast(Graph.Graph graph, Value x, ElementType to, string name)
    {
        var cast = graph.AddNode("Cast", [x], [name]);
        cast.Attributes.Set("to", (long)to);
        if (x.HasType) cast.Output(0)!.SetTensorType(to, x.Shape);
        return cast.Output(0)!;
    }

    private static void Rewire(Graph.Graph graph, Node reader, Value from, Value to)
    {
        for (int i = 0; i < reader.Inputs.Count; i++)
            if (reader.Inputs[i] == from) graph.SetInput(reader, i, to);
    }
}
