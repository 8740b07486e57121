// NoBatchNormModel IN.onnx OUT.onnx: folds every BatchNormalization that follows a Conv (read by nothing else) into that
// Conv's weights and bias, giving the same function without BN: the "deep ResNet without BatchNormalization" of the
// optimizer and clipping measurements in src/OnnxPrune/Training/README.md. Other BNs stay (counted on stderr).
using OnnxPrune.Graph;
using OnnxPrune.Graph.Passes;
using OnnxPrune.Tensors;

if (args.Length != 2) { Console.Error.WriteLine("usage: NoBatchNormModel IN.onnx OUT.onnx"); return 2; }
var model = OnnxModel.Load(args[0]);
var g = model.Graph;
int folded = 0, kept = 0;
foreach (var bn in g.Nodes.Where(n => n.OpType == "BatchNormalization").ToArray())
{
    var conv = bn.Input(0)!.Producer;
    if (conv is not { OpType: "Conv" } || bn.Input(0)!.Consumers.Count != 1 || bn.Input(0)!.IsGraphOutput || conv.Input(1)?.Constant is null) { kept++; continue; }
    float eps = bn.Attributes.GetFloat("epsilon", 1e-5f);
    var gamma = bn.Input(1)!.Constant!.Data.ToFloatArray();
    var beta = bn.Input(2)!.Constant!.Data.ToFloatArray();
    var mean = bn.Input(3)!.Constant!.Data.ToFloatArray();
    var variance = bn.Input(4)!.Constant!.Data.ToFloatArray();
    var w = conv.Input(1)!.Constant!;
    var weights = w.Data.ToFloatArray();
    int outC = gamma.Length, per = weights.Length / outC;
    var bias = conv.Input(2)?.Constant?.Data.ToFloatArray() ?? new float[outC];
    var newBias = new float[outC];
    for (int o = 0; o < outC; o++)
    {
        float s = gamma[o] / MathF.Sqrt(variance[o] + eps);
        for (int i = 0; i < per; i++) weights[o * per + i] *= s;
        newBias[o] = (bias[o] - mean[o]) * s + beta[o];
    }
    g.SetInput(conv, 1, g.AddInitializer(g.UniqueName(w.Name + "_folded"), Tensor.FromArray<float>(weights, w.Shape.ToArray())).Value);
    var b = g.AddInitializer(g.UniqueName(conv.DisplayName + "_bias_folded"), Tensor.FromArray<float>(newBias, outC)).Value;
    if (conv.Inputs.Count > 2) g.SetInput(conv, 2, b); else g.AddNodeInput(conv, b);
    var bnOut = bn.Output(0)!;
    if (bnOut.IsGraphOutput) { kept++; continue; }
    g.ReplaceAllUses(bnOut, conv.Output(0)!);
    g.RemoveNode(bn);
    folded++;
}
new CleanupPass().Run(model);
model.Save(args[1]);
Console.Error.WriteLine($"{args[1]}: folded {folded} BatchNormalization layer(s) into convs; {kept} left.");
return 0;
