using OnnxPrune.Graph;
using OnnxPrune.Tensors;
using OnnxPrune.Training;

namespace OnnxPrune.MultiTask;

/// <summary>Fresh, seeded initial weights for a model's architecture (for training a pruned architecture from scratch).</summary>
public static class Reinitializer
{
    /// <summary>
    /// Re-initialises <paramref name="model"/> in place: Conv and ConvTranspose weights He-normal (fan-in) where the layer
    /// feeds a ReLU (directly, through its BatchNormalization, or through a residual Add), Xavier-uniform where it is linear;
    /// a Conv that produces a graph output (a dense head's last layer, e.g. a reconstruction) starts at zero, so the head starts
    /// at its bias and grows its weights from the error (a random output layer gives a large first error that, with the head's
    /// loss weight, drives its ReLUs dead in the first steps); Gemm and MatMul weight matrices Xavier-uniform; biases 0;
    /// BatchNormalization scale 1, bias 0, mean 0, variance 1. Other constants (normalisation constants, shapes) stay. A weight
    /// or bias that the trainer does not train (<see cref="GradientBuilder.DefaultTrainable"/>: e.g. the one-element bias of a
    /// one-channel output conv) also stays: reset to 0 it could never learn its offset back. BatchNormalization running
    /// statistics are always reset (the trainer updates them). Deterministic for a seed.
    /// </summary>
    /// <returns>The number of constants re-initialised.</returns>
    public static int Apply(OnnxModel model, int seed)
    {
        ArgumentNullException.ThrowIfNull(model);
        var random = new Random(seed);
        var registry = GradientRegistry.CreateDefault();
        var done = new HashSet<string>(StringComparer.Ordinal);
        int count = 0;
        void Set(Value? v, Func<long[], float[]> make, bool trainedOrUpdated = false)
        {
            if (v?.Constant is not { } c || c.ElementType != ElementType.Float) return;
            if (!trainedOrUpdated && !GradientBuilder.DefaultTrainable(c, registry)) return;
            if (!done.Add(c.Name)) return;
            var shape = c.Shape.ToArray();
            c.Data = Tensor.FromArray<float>(make(shape), shape);
            count++;
        }
        float[] Fill(long[] shape, float value) { var a = new float[shape.Aggregate(1L, (x, y) => x * y)]; Array.Fill(a, value); return a; }
        float[] Normal(long[] shape, double std)
        {
            var a = new float[shape.Aggregate(1L, (x, y) => x * y)];
            for (long i = 0; i < a.LongLength; i++)
                a[i] = (float)(std * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
            return a;
        }
        float[] Uniform(long[] shape, double bound)
        {
            var a = new float[shape.Aggregate(1L, (x, y) => x * y)];
            for (long i = 0; i < a.LongLength; i++) a[i] = (float)((2 * random.NextDouble() - 1) * bound);
            return a;
        }
        long Receptive(long[] s) => s.Skip(2).Aggregate(1L, (x, y) => x * y);
        foreach (var node in model.Graph.Nodes)
        {
            switch (node.OpType)
            {
                case "Conv" when FeedsRelu(node):
                    Set(node.Input(1), s => Normal(s, Math.Sqrt(2.0 / Math.Max(1, s[1] * Receptive(s)))));
                    Set(node.Input(2), s => Fill(s, 0));
                    break;
                case "Conv" when node.Output(0) is { IsGraphOutput: true }:
                    Set(node.Input(1), s => Fill(s, 0));
                    Set(node.Input(2), s => Fill(s, 0));
                    break;
                case "Conv":
                    Set(node.Input(1), s => Uniform(s, Math.Sqrt(6.0 / Math.Max(1, (s[0] + s[1]) * Receptive(s)))));
                    Set(node.Input(2), s => Fill(s, 0));
                    break;
                case "ConvTranspose":
                    Set(node.Input(1), s => Normal(s, Math.Sqrt(2.0 / Math.Max(1, s[0]))));
                    Set(node.Input(2), s => Fill(s, 0));
                    break;
                case "Gemm":
                case "MatMul":
                    foreach (var v in node.Inputs.Take(2))
                        Set(v, s => s.Length == 2 ? Uniform(s, Math.Sqrt(6.0 / (s[0] + s[1]))) : Fill(s, 0));
                    if (node.OpType == "Gemm") Set(node.Input(2), s => Fill(s, 0));
                    break;
                case "BatchNormalization":
                    Set(node.Input(1), s => Fill(s, 1));
                    Set(node.Input(2), s => Fill(s, 0));
                    Set(node.Input(3), s => Fill(s, 0), trainedOrUpdated: true);
                    Set(node.Input(4), s => Fill(s, 1), trainedOrUpdated: true);
                    break;
            }
        }
        return count;
    }

    /// <summary>
    /// Whether a layer's output goes into a ReLU: directly, through its BatchNormalization, or through a residual Add whose
    /// sum goes into one (He initialisation); otherwise the layer is linear (an output layer: Xavier).
    /// </summary>
    private static bool FeedsRelu(Node node)
    {
        if (node.Output(0) is not { } v) return false;
        if (v.Consumers is [{ OpType: "BatchNormalization" } bn] && bn.Output(0) is { } normalised) v = normalised;
        if (v.IsGraphOutput || v.Consumers.Count == 0) return false;
        return v.Consumers.All(c => c.OpType == "Relu"
            || (c.OpType == "Add" && c.Output(0) is { IsGraphOutput: false } sum && sum.Consumers.Count > 0 && sum.Consumers.All(r => r.OpType == "Relu")));
    }
}
