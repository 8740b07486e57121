using OnnxPrune.Graph;
using OnnxPrune.Graph.Passes;
using OnnxPrune.Tensors;

namespace OnnxPrune.Export;

/// <summary>
/// INT8 post-training static quantization in QDQ form, laid out the way ONNX Runtime's CPU kernels fuse it
/// (DequantizeLinear → Conv → QuantizeLinear becomes QLinearConv, DequantizeLinear → Gemm becomes QGemm, DequantizeLinear → MatMul
/// becomes MatMulIntegerToFloat): weights of Conv, Gemm and MatMul become symmetric int8 (zero point 0), per output
/// channel or per tensor, behind a DequantizeLinear; biases become int32 with scale <c>s_x·s_w</c>; the activation input of
/// each such node and the output of each Conv (after its Relu when a Relu is its only reader) get an asymmetric uint8
/// QuantizeLinear → DequantizeLinear pair whose scale and zero point come from a <see cref="CalibrationTable"/>.
/// </summary>
/// <remarks>
/// <para><b>Preconditions</b> (checked before any edit, else <see cref="UnsupportedModelException"/>): default-domain opset
/// ≥ 13 (per-axis DequantizeLinear); no QuantizeLinear/DequantizeLinear node yet (a model is quantized once); every
/// activation listed by <see cref="ActivationsToCalibrate"/> has a finite range in the table. Nodes whose weight is not a
/// float32 initializer or Constant (rank ≥ 3 for Conv, 2 for Gemm/MatMul), or whose first input is constant, are left in
/// float32.</para>
/// <para><b>Guarantee</b>: graph inputs and outputs keep their names and float32 types; each weight's error is at most half
/// a quantization step (<c>max|w_c| / 254</c>); graph outputs themselves are never quantized. Accuracy is measured, not
/// guaranteed (see EXPORT.md).</para>
/// </remarks>
public sealed class QuantizeStaticPass : IGraphPass
{
    private readonly CalibrationTable _table;
    private readonly bool _perChannel;
    private readonly bool _reduceRange;

    /// <summary>Creates the pass.</summary>
    /// <param name="table">Activation ranges, by value name (from <see cref="ActivationsToCalibrate"/>).</param>
    /// <param name="perChannel">One weight scale per output channel (default) or one per tensor.</param>
    /// <param name="reduceRange">7-bit weights ([−63, 63]) for CPUs whose u8·s8 dot products saturate (x86 without VNNI).</param>
    public QuantizeStaticPass(CalibrationTable table, bool perChannel = true, bool reduceRange = false)
    {
        ArgumentNullException.ThrowIfNull(table);
        _table = table;
        _perChannel = perChannel;
        _reduceRange = reduceRange;
    }

    /// <inheritdoc/>
    public string Name => "int8-static";

    internal sealed record Target(Node Node, int WeightAxis, bool QuantizeBias);

    /// <summary>The nodes this pass quantizes: Conv, Gemm and MatMul with a constant float32 weight and a non-constant first input.</summary>
    internal static IReadOnlyList<Target> Targets(Graph.Graph graph)
    {
        var targets = new List<Target>();
        foreach (var node in graph.Nodes)
        {
            if (!PassHelpers.Is(node, "Conv", "Gemm", "MatMul") || node.Input(0) is not { } x || x.Constant is not null) continue;
            if (node.Input(1)?.Constant is not { ElementType: ElementType.Float } w) continue;
            switch (node.OpType)
            {
                case "Conv" when w.Shape.Count >= 3:
                    targets.Add(new Target(node, 0, node.Input(2)?.Constant is { ElementType: ElementType.Float, Shape.Count: 1 }));
                    break;
                case "Gemm" when w.Shape.Count == 2:
                    int axis = node.Attributes.GetInt("transB", 0) != 0 ? 0 : 1;
                    targets.Add(new Target(node, axis, node.Input(2)?.Constant is { ElementType: ElementType.Float, Shape.Count: 1 } c && c.Shape[0] == w.Shape[axis]
                        && node.Attributes.GetFloat("beta", 1f) == 1f));
                    break;
                case "MatMul" when w.Shape.Count == 2:
                    targets.Add(new Target(node, 1, false));
                    break;
            }
        }
        return targets;
    }

    /// <summary>The activations whose ranges the pass needs (in node order, without repeats).</summary>
    public static IReadOnlyList<string> ActivationsToCalibrate(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Activations(model.Graph).Select(v => v.Name).ToArray();
    }

    private static IReadOnlyList<Value> Activations(Graph.Graph graph)
    {
        var result = new List<Value>();
        void Add(Value? v)
        {
            if (v is not null && !v.IsGraphOutput && v.Constant is null && !result.Contains(v)) result.Add(v);
        }
        foreach (var t in Targets(graph))
        {
            Add(t.Node.Input(0));
            if (t.Node.OpType != "Conv" || t.Node.Output(0) is not { } y) continue;
            // QLinearConv needs a QuantizeLinear after the Conv; after a lone Relu the range starts at 0, so the zero
            // point is 0 and ONNX Runtime drops the Relu into the quantization.
            if (y.Consumers.Count == 1 && !y.IsGraphOutput && PassHelpers.Is(y.Consumers[0], "Relu") && y.Consumers[0].Output(0) is { } r) Add(r);
            else Add(y);
        }
        return result;
    }

    /// <inheritdoc/>
    public PassResult Run(OnnxModel model, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph;
        if (PassHelpers.Opset(model) < 13)
            throw new UnsupportedModelException($"{Name}: the model imports opset {PassHelpers.Opset(model)}; per-axis DequantizeLinear needs opset 13 or later (upgrade the opset first).");
        if (graph.Nodes.FirstOrDefault(n => PassHelpers.Is(n, "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear")) is { } q)
            throw new UnsupportedModelException($"{Name}: the model is already quantized (node {q.DisplayName}, {q.OpType}).");
        var targets = Targets(graph);
        var activations = Activations(graph);
        var parameters = new Dictionary<Value, (float Scale, byte ZeroPoint)>();
        foreach (var v in activations)
        {
            var range = _table.Find(v.Name) ?? throw new UnsupportedModelException($"{Name}: no calibration range for activation '{v.Name}' (read by {v.Consumers.FirstOrDefault()?.DisplayName}).");
            parameters[v] = Quantization.Uint8(range, v.Name);
        }

        // All checks passed: edit.
        var notes = new List<string>();
        var oldWeights = new List<Value?>();
        foreach (var t in targets)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var node = t.Node;
            var w = node.Input(1)!;
            int axis = _perChannel ? t.WeightAxis : -1;
            var (qw, scales) = Quantization.SymmetricInt8(w.Constant!.Data, axis, _reduceRange);
            oldWeights.Add(w);
            graph.SetInput(node, 1, Quantization.AddDequantized(graph, w.Name, qw, Quantization.Scales(scales, _perChannel),
                _perChannel ? Tensor.Zeros(ElementType.Int8, scales.Length) : Tensor.Scalar<sbyte>(0), _perChannel ? t.WeightAxis : null));
            if (t.QuantizeBias && node.Input(2) is { } b && parameters.TryGetValue(node.Input(0)!, out var xq))
            {
                var bias = b.Constant!.Data.ToFloatArray();
                var bScales = new float[bias.Length];
                var qb = new int[bias.Length];
                for (int c = 0; c < bias.Length; c++)
                {
                    bScales[c] = xq.Scale * scales[_perChannel ? c : 0];
                    qb[c] = (int)Math.Clamp(Math.Round(bias[c] / (double)bScales[c], MidpointRounding.ToEven), int.MinValue + 1, int.MaxValue);
                }
                oldWeights.Add(b);
                graph.SetInput(node, 2, Quantization.AddDequantized(graph, b.Name, Tensor.FromArray<int>(qb, bias.Length),
                    Tensor.FromArray<float>(bScales, bias.Length), Tensor.Zeros(ElementType.Int32, bias.Length), 0));
            }
        }
        foreach (var v in activations)
        {
            var (scale, zp) = parameters[v];
            var s = PassHelpers.AddInitializer(graph, v.Name + "_scale", Tensor.Scalar(scale));
            var z = PassHelpers.AddInitializer(graph, v.Name + "_zero_point", Tensor.Scalar(zp));
            var readers = v.Consumers.ToArray();
            var qn = graph.AddNode("QuantizeLinear", [v, s, z], [v.Name + "_quantized"]);
            var dq = graph.AddNode("DequantizeLinear", [qn.Output(0), s, z], [v.Name + "_dequantized"]);
            qn.Output(0)!.SetTensorType(ElementType.UInt8, v.HasType ? v.Shape : null);
            dq.Output(0)!.SetTensorType(ElementType.Float, v.HasType ? v.Shape : null);
            foreach (var r in readers.Distinct())
                for (int i = 0; i < r.Inputs.Count; i++)
                    if (r.Inputs[i] == v) graph.SetInput(r, i, dq.Output(0));
        }
        PassHelpers.DropUnusedInitializers(graph, oldWeights);
        graph.TopologicalSort();
        notes.Add($"{targets.Count} nodes with int8 weights ({(_perChannel ? "per channel" : "per tensor")}{(_reduceRange ? ", 7-bit" : "")}), " +
                  $"{activations.Count} activations as uint8 ({_table.Method}, {_table.Samples} calibration inputs)");
        return new PassResult(Name, targets.Count + activations.Count, notes);
    }
}
