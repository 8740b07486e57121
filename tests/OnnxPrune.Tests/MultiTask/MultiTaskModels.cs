using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.MultiTask;
using OnnxPrune.Tensors;
using OnnxPrune.Training;

namespace OnnxPrune.Tests.MultiTask;

/// <summary>A tiny three-head model and data for the multi-task tests.</summary>
internal static class MultiTaskModels
{
    /// <summary>
    /// input [N,1,8,8] → shared Conv 3×3 (6) + Relu → shared Conv 3×3 (6) + Relu → heads: "a" (Conv 1×1 (4) + Relu → GAP → Gemm 3),
    /// "b" (GAP → Gemm 2), "c" (Conv 3×3 (1) → [N,1,8,8]).
    /// </summary>
    public static OnnxModel ThreeHeads(int seed = 1, int deadUnit = -1)
    {
        var random = new Random(seed);
        float[] Values(int n, float scale) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5) * scale).ToArray();
        var b = new GraphBuilder(opset: 17, irVersion: 8);
        var x = b.Input("input", ElementType.Float, "N", 1, 8, 8);
        var w1 = Values(6 * 9, 1.2f);
        var b1 = Values(6, 0.2f);
        if (deadUnit >= 0)
        {
            Array.Clear(w1, deadUnit * 9, 9);
            b1[deadUnit] = -1; // Relu(−1) = 0 everywhere: the unit is dead
        }
        var h = b.Relu(b.Conv(x, b.Initializer("s1.w", w1, 6, 1, 3, 3), b.Initializer("s1.b", b1, 6), pads: [1, 1, 1, 1]));
        h = b.Relu(b.Conv(h, b.Initializer("s2.w", Values(6 * 6 * 9, 0.5f), 6, 6, 3, 3), b.Initializer("s2.b", Values(6, 0.2f), 6), pads: [1, 1, 1, 1]));
        var ha = b.Relu(b.Conv(h, b.Initializer("a.conv.w", Values(4 * 6, 1f), 4, 6, 1, 1), b.Initializer("a.conv.b", Values(4, 0.2f), 4)));
        var a = b.Graph.AddNode("Gemm", [b.Flatten(b.GlobalAveragePool(ha)), b.Initializer("a.fc.w", Values(3 * 4, 1f), 3, 4), b.Initializer("a.fc.b", new float[3], 3)], ["a"], "a.fc");
        a.Attributes.Set("transB", 1L);
        var hb = b.Graph.AddNode("Gemm", [b.Flatten(b.GlobalAveragePool(h)), b.Initializer("b.fc.w", Values(2 * 6, 1f), 2, 6), b.Initializer("b.fc.b", new float[2], 2)], ["b"], "b.fc");
        hb.Attributes.Set("transB", 1L);
        var c = b.Graph.AddNode("Conv", [h, b.Initializer("c.w", Values(6 * 9, 0.3f), 1, 6, 3, 3), b.Initializer("c.b", new float[1], 1)], ["c"], "c.conv");
        c.Attributes.Set("pads", new long[] { 1, 1, 1, 1 });
        b.Output(a.Output(0)!, ElementType.Float, "N", 3);
        b.Output(hb.Output(0)!, ElementType.Float, "N", 2);
        b.Output(c.Output(0)!, ElementType.Float, "N", 1, 8, 8);
        return b.Build();
    }

    /// <summary>The three tasks: "a" 3-way (class id mod 3), "b" 2-way category, "c" reconstruction of the input (MSE).</summary>
    public static MultiTaskSpec Tasks { get; } = new(
    [
        new TaskSpec("a", "a", TaskTarget.Label, LossKind.SoftmaxCrossEntropy, 1f, TaskMetric.Accuracy),
        new TaskSpec("b", "b", new TaskTarget(TaskTargetKind.Categories, ["low", "high"], new Dictionary<long, long> { [0] = 0, [1] = 0, [2] = 1 }), LossKind.SoftmaxCrossEntropy, 1f, TaskMetric.Accuracy),
        new TaskSpec("c", "c", new TaskTarget(TaskTargetKind.Reconstruction, Height: 8, Width: 8), LossKind.MeanSquaredError, 2f, TaskMetric.Mse),
    ], "three-heads");

    /// <summary>Seeded images [n,1,8,8] whose class (0..2) is the brightest third of the image, with the three tasks' targets.</summary>
    public static TensorDataset Data(int n, int seed)
    {
        var random = new Random(seed);
        var images = new float[n * 64];
        var labels = new long[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = random.Next(3);
            for (int p = 0; p < 64; p++)
                images[i * 64 + p] = (float)random.NextDouble() * 0.3f + ((p / 8) * 3 / 8 == labels[i] ? 0.7f : 0f);
        }
        var set = new ImageDataset("three-heads", images, labels, 1, 8, 8, ["top", "middle", "bottom"]);
        return MultiTaskData.Build(set, Tasks);
    }
}
