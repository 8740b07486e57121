using OnnxPrune.Graph;
using OnnxPrune.Graph.Passes;
using OnnxPrune.Tensors;

namespace OnnxPrune.Export;

/// <summary>
/// Folds an inference-mode BatchNormalization into the Conv, ConvTranspose or Gemm that feeds it:
/// <c>W'[o] = W[o]·s[o]</c>, <c>b'[o] = (b[o] − μ[o])·s[o] + β[o]</c> with <c>s = γ / √(σ² + ε)</c>, computed in float64.
/// </summary>
/// <remarks>
/// <para><b>Preconditions</b> (checked before any edit; a BatchNormalization that does not meet them is left alone and
/// named in the notes, it is not an error): the BN has one output (no training-mode statistics) and, before opset 9,
/// <c>spatial = 1</c>; its scale, bias, mean and variance are float32 constants of one value per channel; its input is
/// the only use of a Conv/ConvTranspose/Gemm output whose weight (and bias, if any) is a float32 constant; for Gemm the
/// bias is absent, a scalar, [M] or [1, M]. Otherwise, a BN whose output only an ungrouped Conv without padding reads is
/// folded into that following Conv (<c>W'[o,c] = W[o,c]·s[c]</c>, <c>b'[o] = b[o] + Σ W[o,c]·(β[c] − μ[c]·s[c])</c>; padded
/// zeros would make it inexact, so padding Convs are skipped). Weights shared with other nodes are copied, not edited in place.</para>
/// <para><b>Guarantee</b>: no folded BatchNormalization remains; graph inputs, outputs and their names are unchanged;
/// outputs equal the original's to float32 rounding (≈1e-6 relative; the tests check 1e-5).</para>
/// </remarks>
public sealed class FoldBatchNormPass : IGraphPass
{
    /// <inheritdoc/>
    public string Name => "fold-bn";

    /// <inheritdoc/>
    public PassResult Run(OnnxModel model, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph;
        var notes = new List<string>();
        int folded = 0;
        foreach (var bn in graph.Nodes.Where(n => PassHelpers.Is(n, "BatchNormalization")).ToArray())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var plan = Plan(model, bn, out var reason);
            if (plan is not null)
            {
                Apply(graph, bn, plan);
                notes.Add($"folded {bn.DisplayName} into {plan.Producer.DisplayName} ({plan.Producer.OpType})");
                folded++;
                continue;
            }
            var following = PlanFollowing(model, bn, out var reason2);
            if (following is null) { notes.Add($"kept {bn.DisplayName}: {reason}; {reason2}"); continue; }
            ApplyFollowing(graph, bn, following);
            notes.Add($"folded {bn.DisplayName} into the following {following.Producer.DisplayName} (Conv)");
            folded++;
        }
        return new PassResult(Name, folded, notes);
    }

    private sealed record FoldPlan(Node Producer, Tensor Weight, Tensor Bias, int BiasInput);

    // Decides whether and how to fold; computes the new tensors without touching the graph.
    private static FoldPlan? Plan(OnnxModel model, Node bn, out string reason)
    {
        reason = "";
        if (bn.Outputs.Count(o => o is not null) != 1 || bn.Attributes.GetInt("training_mode", 0) != 0) { reason = "training-mode outputs"; return null; }
        if (PassHelpers.Opset(model) < 9 && bn.Attributes.GetInt("spatial", 1) != 1) { reason = "spatial = 0"; return null; }
        var x = bn.Input(0);
        var p = x?.Producer;
        if (x is null || p is null || !PassHelpers.Is(p, "Conv", "ConvTranspose", "Gemm")) { reason = "input is not a Conv, ConvTranspose or Gemm output"; return null; }
        if (x.IsGraphOutput || x.Consumers.Count != 1) { reason = $"{p.DisplayName}'s output has other readers"; return null; }
        var gamma = PassHelpers.FloatConstant(bn.Input(1));
        var beta = PassHelpers.FloatConstant(bn.Input(2));
        var mean = PassHelpers.FloatConstant(bn.Input(3));
        var variance = PassHelpers.FloatConstant(bn.Input(4));
        if (gamma is null || beta is null || mean is null || variance is null) { reason = "statistics are not float32 constants"; return null; }
        int channels = gamma.Length;
        if (beta.Length != channels || mean.Length != channels || variance.Length != channels) { reason = "statistics differ in length"; return null; }
        double eps = bn.Attributes.GetFloat("epsilon", 1e-5f);
        var scale = new double[channels];
        for (int c = 0; c < channels; c++) scale[c] = gamma[c] / Math.Sqrt(variance[c] + eps);

        var wConst = p.Input(1)?.Constant;
        if (wConst is not { ElementType: ElementType.Float }) { reason = $"{p.DisplayName}'s weight is not a float32 constant"; return null; }
        var w = wConst.Data.ToFloatArray();
        var wShape = wConst.Shape.ToArray();
        int biasInput = 2;
        float[]? bias = p.Input(biasInput) is null ? null : PassHelpers.FloatConstant(p.Input(biasInput));
        if (p.Input(biasInput) is not null && bias is null) { reason = $"{p.DisplayName}'s bias is not a float32 constant"; return null; }

        var newW = new float[w.Length];
        double[] baseBias = new double[channels];
        switch (p.OpType)
        {
            case "Conv":
            {
                if (wShape.Length < 3 || wShape[0] != channels) { reason = $"{p.DisplayName} has {(wShape.Length > 0 ? wShape[0] : 0)} output channels, the BN {channels}"; return null; }
                long per = w.Length / channels;
                for (int o = 0; o < channels; o++)
                    for (long i = 0; i < per; i++) newW[o * per + i] = (float)(w[o * per + i] * scale[o]);
                if (bias is not null && bias.Length != channels) { reason = "bias length differs"; return null; }
                for (int o = 0; o < channels; o++) baseBias[o] = bias?[o] ?? 0;
                break;
            }
            case "ConvTranspose":
            {
                long group = p.Attributes.GetInt("group", 1);
                if (wShape.Length < 3 || wShape[1] * group != channels) { reason = $"{p.DisplayName}'s output channels differ from the BN's {channels}"; return null; }
                long cin = wShape[0], outPerGroup = wShape[1], k = w.Length / (cin * outPerGroup);
                long inPerGroup = cin / group;
                for (long ci = 0; ci < cin; ci++)
                    for (long j = 0; j < outPerGroup; j++)
                    {
                        long o = ci / inPerGroup * outPerGroup + j;
                        long at = (ci * outPerGroup + j) * k;
                        for (long e = 0; e < k; e++) newW[at + e] = (float)(w[at + e] * scale[o]);
                    }
                if (bias is not null && bias.Length != channels) { reason = "bias length differs"; return null; }
                for (int o = 0; o < channels; o++) baseBias[o] = bias?[o] ?? 0;
                break;
            }
            default: // Gemm: Y = alpha·A'·B' + beta·C, BN over axis 1 (M)
            {
                bool transB = p.Attributes.GetInt("transB", 0) != 0;
                if (wShape.Length != 2 || (transB ? wShape[0] : wShape[1]) != channels) { reason = $"{p.DisplayName}'s output width differs from the BN's {channels}"; return null; }
                long rows = wShape[0], cols = wShape[1];
                for (long r = 0; r < rows; r++)
                    for (long c = 0; c < cols; c++)
                        newW[r * cols + c] = (float)(w[r * cols + c] * scale[transB ? r : c]);
                double gemmBeta = p.Attributes.GetFloat("beta", 1f);
                if (bias is not null)
                {
                    var cShape = p.Input(2)!.Constant!.Shape;
                    bool ok = bias.Length == 1 || (bias.Length == channels && (cShape.Count == 1 || (cShape.Count == 2 && cShape[0] == 1)));
                    if (!ok) { reason = $"{p.DisplayName}'s C has shape [{string.Join(",", cShape)}]"; return null; }
                }
                for (int o = 0; o < channels; o++) baseBias[o] = bias is null ? 0 : gemmBeta * bias[bias.Length == 1 ? 0 : o];
                break;
            }
        }
        var newB = new float[channels];
        for (int o = 0; o < channels; o++) newB[o] = (float)((baseBias[o] - mean[o]) * scale[o] + beta[o]);
        return new FoldPlan(p, Tensor.FromArray<float>(newW, wShape), Tensor.FromArray<float>(newB, channels), biasInput);
    }

    // BN → Conv without padding: Conv(W, b)(s·x + t) = Conv(W·s_c, b + Σ_c,k W·t_c)(x), t = β − μ·s. Exact only when the
    // Conv sees no padded zeros (a padded zero would have been t after the BN) and every input channel feeds one group.
    private static FoldPlan? PlanFollowing(OnnxModel model, Node bn, out string reason)
    {
        reason = "";
        var y = bn.Output(0);
        if (y is null || y.IsGraphOutput || y.Consumers.Count != 1 || bn.Outputs.Count(o => o is not null) != 1 || bn.Attributes.GetInt("training_mode", 0) != 0)
        { reason = "nor is its output read by one Conv only"; return null; }
        var conv = y.Consumers[0];
        if (!PassHelpers.Is(conv, "Conv") || conv.Input(0) != y || conv.Inputs.Skip(1).Contains(y)) { reason = "nor is its only reader a Conv"; return null; }
        if (PassHelpers.Opset(model) < 9 && bn.Attributes.GetInt("spatial", 1) != 1) { reason = "spatial = 0"; return null; }
        if (conv.Attributes.GetInt("group", 1) != 1) { reason = $"the following {conv.DisplayName} is grouped"; return null; }
        var autoPad = conv.Attributes.GetString("auto_pad", "NOTSET");
        if (autoPad is not ("NOTSET" or "VALID") || (conv.Attributes.GetInts("pads") ?? []).Any(pad => pad != 0))
        { reason = $"the following {conv.DisplayName} pads (padded zeros break the fold)"; return null; }
        var gamma = PassHelpers.FloatConstant(bn.Input(1));
        var beta = PassHelpers.FloatConstant(bn.Input(2));
        var mean = PassHelpers.FloatConstant(bn.Input(3));
        var variance = PassHelpers.FloatConstant(bn.Input(4));
        if (gamma is null || beta is null || mean is null || variance is null) { reason = "statistics are not float32 constants"; return null; }
        var wConst = conv.Input(1)?.Constant;
        if (wConst is not { ElementType: ElementType.Float }) { reason = $"{conv.DisplayName}'s weight is not a float32 constant"; return null; }
        var wShape = wConst.Shape.ToArray();
        int cin = gamma.Length;
        if (wShape.Length < 3 || wShape[1] != cin || beta.Length != cin || mean.Length != cin || variance.Length != cin)
        { reason = $"{conv.DisplayName}'s input channels differ from the BN's {cin}"; return null; }
        float[]? bias = conv.Input(2) is null ? null : PassHelpers.FloatConstant(conv.Input(2));
        if (conv.Input(2) is not null && bias is null) { reason = $"{conv.DisplayName}'s bias is not a float32 constant"; return null; }
        double eps = bn.Attributes.GetFloat("epsilon", 1e-5f);
        var w = wConst.Data.ToFloatArray();
        long cout = wShape[0], k = w.Length / (cout * cin);
        var newW = new float[w.Length];
        var newB = new float[cout];
        for (long o = 0; o < cout; o++)
        {
            double acc = bias?[o] ?? 0;
            for (long c = 0; c < cin; c++)
            {
                double sc = gamma[c] / Math.Sqrt(variance[c] + eps), t = beta[c] - mean[c] * sc;
                for (long e = 0; e < k; e++)
                {
                    long at = (o * cin + c) * k + e;
                    newW[at] = (float)(w[at] * sc);
                    acc += w[at] * t;
                }
            }
            newB[o] = (float)acc;
        }
        return new FoldPlan(conv, Tensor.FromArray<float>(newW, wShape), Tensor.FromArray<float>(newB, cout), 2);
    }

    private static void ApplyFollowing(Graph.Graph graph, Node bn, FoldPlan plan)
    {
        var conv = plan.Producer;
        var oldInputs = conv.Inputs.Concat(bn.Inputs.Skip(1)).ToArray();
        graph.SetInput(conv, 1, PassHelpers.AddInitializer(graph, conv.Input(1)!.Name + "_bnfold", plan.Weight));
        graph.SetInput(conv, 2, PassHelpers.AddInitializer(graph, (conv.Input(2)?.Name ?? conv.Input(1)!.Name + "_bias") + "_bnfold", plan.Bias));
        graph.SetInput(conv, 0, bn.Input(0));
        graph.RemoveNode(bn);
        PassHelpers.DropUnusedInitializers(graph, oldInputs);
    }

    private static void Apply(Graph.Graph graph, Node bn, FoldPlan plan)
    {
        var p = plan.Producer;
        var oldInputs = p.Inputs.Concat(bn.Inputs.Skip(1)).ToArray();
        graph.SetInput(p, 1, PassHelpers.AddInitializer(graph, p.Input(1)!.Name + "_bnfold", plan.Weight));
        graph.SetInput(p, plan.BiasInput, PassHelpers.AddInitializer(graph, (p.Input(plan.BiasInput)?.Name ?? p.Input(1)!.Name + "_bias") + "_bnfold", plan.Bias));
        if (p.OpType == "Gemm") p.Attributes.Set("beta", 1f);
        PassHelpers.Bypass(graph, bn, bn.Input(0)!, bn.Output(0)!);
        PassHelpers.DropUnusedInitializers(graph, oldInputs);
    }
}
