using OnnxPrune.Tests.Runtime;
using OnnxPrune.Graph;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;
using OnnxPrune.Training;

namespace OnnxPrune.Tests.Training;

/// <summary>
/// Checks a training graph's gradients against float32 central differences of its own loss. Models are built with every
/// float tensor as a trainable initializer (so input gradients are checked too) and an MSE loss against seeded targets.
/// </summary>
internal static class GradientCheck
{
    /// <summary>Uniform values in [−1, 1] kept at least <paramref name="margin"/> away from 0 (and from kinks at 0).</summary>
    public static float[] Values(Random random, int count, float margin = 0.1f, float scale = 1f)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++)
        {
            float u = random.NextSingle() * (1 - margin) + margin;
            v[i] = (random.Next(2) == 0 ? -u : u) * scale;
        }
        return v;
    }

    /// <summary>Builds the training graph of <paramref name="model"/> and compares each gradient with central differences.</summary>
    /// <param name="model">A model without data inputs whose float initializers are the tensors to check.</param>
    /// <param name="seed">Seed for targets and sampled positions.</param>
    /// <param name="h">Finite-difference step.</param>
    /// <param name="samplesPerTensor">Elements probed per tensor.</param>
    /// <param name="options">Overrides (batch-norm mode); the loss is always MSE.</param>
    /// <returns>The parameters that were checked (for assertions about the trainable set).</returns>
    public static IReadOnlyList<TrainableParameter> Check(OnnxModel model, int seed = 7, float h = 1e-2f, int samplesPerTensor = 6, GradientBuilderOptions? options = null)
    {
        var graph = GradientBuilder.Build(model, (options ?? new GradientBuilderOptions()) with { BatchSize = 1, Loss = new LossOptions { Kind = LossKind.MeanSquaredError } });
        AssertStandardOpsOnly(graph.Model);
        using var session = OrtSessions.Create(graph.Model, new SessionSettings { IntraOpThreads = 1 });
        var random = new Random(seed);
        var feeds = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var constants = model.Graph.Constants.ToDictionary(c => c.Name);
        foreach (var input in session.Inputs())
        {
            if (constants.TryGetValue(input.Name, out var c)) feeds[input.Name] = c.Data;
            else
            {
                // The MSE targets.
                var count = (int)input.Shape.Aggregate(1L, (a, b) => a * b);
                feeds[input.Name] = Tensor.FromArray<float>(Values(random, count, 0f), input.Shape.ToArray());
            }
        }
        var results = session.RunTensors(feeds);
        double baseLoss = results[graph.LossOutput].AsSpan<float>()[0];
        Assert.That(double.IsFinite(baseLoss), $"loss is {baseLoss}");
        foreach (var p in graph.Parameters)
        {
            var grad = results[p.GradientName];
            Assert.That(grad.Shape, Is.EqualTo(p.Shape), $"gradient shape of {p.Name}");
            var g = grad.AsSpan<float>().ToArray();
            float scale = Math.Max(1e-3f, g.Select(MathF.Abs).Max());
            var original = feeds[p.Name];
            int n = (int)p.ElementCount;
            var positions = Enumerable.Range(0, n).OrderBy(_ => random.Next()).Take(samplesPerTensor).ToArray();
            foreach (var i in positions)
            {
                double Loss(float delta)
                {
                    var copy = new Tensor(ElementType.Float, original.Dims, original.RawData.ToArray());
                    copy.AsSpan<float>()[i] += delta;
                    var f = new Dictionary<string, Tensor>(feeds) { [p.Name] = copy };
                    return session.RunTensors(f, [graph.LossOutput])[graph.LossOutput].AsSpan<float>()[0];
                }
                double fd = (Loss(h) - Loss(-h)) / (2 * h);
                double tolerance = 2e-2 * Math.Abs(g[i]) + 1e-2 * scale + 2e-6 / h;
                Assert.That(g[i], Is.EqualTo(fd).Within(tolerance), $"d loss / d {p.Name}[{i}] (analytic {g[i]:G5}, numeric {fd:G5})");
            }
        }
        return graph.Parameters;
    }

    /// <summary>Every node of a training graph is a default-domain op.</summary>
    public static void AssertStandardOpsOnly(OnnxModel model)
    {
        foreach (var node in model.Graph.Nodes) Assert.That(node.IsStandard, $"node {node.DisplayName} is in domain '{node.Domain}'");
    }
}
