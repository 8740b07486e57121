using OnnxPrune.Graph;
using OnnxPrune.Graph.Passes;
using OnnxPrune.Tensors;

namespace OnnxPrune.Export;

/// <summary>
/// INT8 dynamic quantization of MatMuls with a constant weight (transformer projections and MLPs): <c>MatMul(X, W)</c>
/// becomes <c>Mul(Cast(MatMulInteger(x_q, W_q, x_zp)), x_scale·w_scale)</c> with <c>(x_q, x_scale, x_zp) =
/// DynamicQuantizeLinear(X)</c> computed per run (uint8, asymmetric) and <c>W_q</c> symmetric int8, per output column or per
/// tensor. No calibration data is needed. ONNX Runtime fuses the pattern into one DynamicQuantizeMatMul kernel.
/// </summary>
/// <remarks>
/// <para><b>Preconditions</b> (checked before any edit, else <see cref="UnsupportedModelException"/>): default-domain opset
/// ≥ 11 (DynamicQuantizeLinear); no quantization nodes yet. MatMuls whose second input is not a rank-2 float32 constant,
/// or whose first input is constant, stay in float32.</para>
/// <para><b>Guarantee</b>: graph inputs and outputs keep their names and float32 types; each quantized MatMul's output
/// keeps its name; other large float32 constants become int8 behind a DequantizeLinear (weights only). Accuracy is
/// measured, not guaranteed (see EXPORT.md).</para>
/// </remarks>
public sealed class QuantizeDynamicPass : IGraphPass
{
    private readonly bool _perChannel;
    private readonly bool _reduceRange;
    private readonly long _weightOnlyMinElements;

    /// <summary>Creates the pass.</summary>
    /// <param name="perChannel">One weight scale per output column (default) or one per tensor.</param>
    /// <param name="reduceRange">7-bit weights (see <see cref="QuantizeStaticPass"/>).</param>
    /// <param name="weightOnlyMinElements">Other float32 constants of at least this many elements (the patch embedding,
    /// position embeddings, the classifier head) are stored as int8 behind a per-tensor DequantizeLinear ("weights only":
    /// smaller file, same float compute); 0 turns this off.</param>
    public QuantizeDynamicPass(bool perChannel = true, bool reduceRange = false, long weightOnlyMinElements = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(weightOnlyMinElements);
        _perChannel = perChannel;
        _reduceRange = reduceRange;
        _weightOnlyMinElements = weightOnlyMinElements;
    }

    /// <inheritdoc/>
    public string Name => "int8-dynamic";

    /// <inheritdoc/>
    public PassResult Run(OnnxModel model, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph;
        if (PassHelpers.Opset(model) < 11)
            throw new UnsupportedModelException($"{Name}: the model imports opset {PassHelpers.Opset(model)}; DynamicQuantizeLinear needs opset 11 or later.");
        if (graph.Nodes.FirstOrDefault(n => PassHelpers.Is(n, "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger")) is { } q)
            throw new UnsupportedModelException($"{Name}: the model is already quantized (node {q.DisplayName}, {q.OpType}).");
        var targets = graph.Nodes.Where(n => PassHelpers.Is(n, "MatMul") && n.Input(0) is { Constant: null }
            && n.Input(1)?.Constant is { ElementType: ElementType.Float, Shape.Count: 2 }).ToArray();
        // Weights-only candidates are chosen before any edit, so the scales this pass adds are never among them.
        var weightOnlyCandidates = _weightOnlyMinElements == 0 ? [] : graph.Constants.Where(c => c.ElementType == ElementType.Float
            && c.ElementCount >= _weightOnlyMinElements && !c.Value.IsGraphInput && !c.Value.IsGraphOutput).ToArray();
        // One DynamicQuantizeLinear per activation, shared by the MatMuls that read it.
        var quantized = new Dictionary<Value, Node>();
        var oldWeights = new List<Value?>();
        foreach (var mm in targets)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var x = mm.Input(0)!;
            var w = mm.Input(1)!;
            var y = mm.Output(0)!;
            if (!quantized.TryGetValue(x, out var dql))
            {
                dql = graph.AddNode("DynamicQuantizeLinear", [x], [x.Name + "_quantized", x.Name + "_scale", x.Name + "_zero_point"]);
                quantized[x] = dql;
            }
            var (qw, scales) = Quantization.SymmetricInt8(w.Constant!.Data, _perChannel ? 1 : -1, _reduceRange);
            var wq = PassHelpers.AddInitializer(graph, w.Name + "_quantized", qw);
            var ws = PassHelpers.AddInitializer(graph, w.Name + "_scale", Quantization.Scales(scales, _perChannel));
            var integer = graph.AddNode("MatMulInteger", [dql.Output(0), wq, dql.Output(2)], [y.Name + "_int32"]);
            var cast = graph.AddNode("Cast", [integer.Output(0)], [y.Name + "_float"]);
            cast.Attributes.Set("to", (long)ElementType.Float);
            var scale = graph.AddNode("Mul", [dql.Output(1), ws], [y.Name + "_output_scale"]);
            var mul = graph.AddNode("Mul", [cast.Output(0), scale.Output(0)], [y.Name + "_dequantized"]);
            // The last Mul takes over the MatMul's output value, so readers and graph outputs keep its name.
            graph.SwapOutputs(mm, 0, mul, 0);
            graph.RemoveNode(mm, force: true);
            oldWeights.Add(w);
        }
        int weightOnly = 0;
        if (_weightOnlyMinElements > 0)
        {
            foreach (var c in weightOnlyCandidates)
            {
                var v = c.Value;
                if (v.Consumers.Count == 0) continue; // a MatMul weight, already quantized above
                var (qc, cs) = Quantization.SymmetricInt8(c.Data, -1, _reduceRange);
                var dq = Quantization.AddDequantized(graph, v.Name, qc, Tensor.Scalar(cs[0]), Tensor.Scalar<sbyte>(0), null);
                foreach (var r in v.Consumers.Distinct().ToArray())
                    for (int i = 0; i < r.Inputs.Count; i++) if (r.Inputs[i] == v) graph.SetInput(r, i, dq);
                oldWeights.Add(v);
                weightOnly++;
            }
        }
        PassHelpers.DropUnusedInitializers(graph, oldWeights);
        graph.TopologicalSort();
        return new PassResult(Name, targets.Length + weightOnly, new[]
        {
            $"{targets.Length} MatMuls → DynamicQuantizeLinear + MatMulInteger (int8 weights {(_perChannel ? "per column" : "per tensor")}{(_reduceRange ? ", 7-bit" : "")}), {quantized.Count} activations quantized at run time",
            $"{weightOnly} other constants of ≥ {_weightOnlyMinElements} elements stored as int8 (weights only, per tensor)",
        });
    }
}
