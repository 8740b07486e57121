using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Tensors;
using OnnxPrune.Training;

namespace OnnxPrune.Tests.Training;

/// <summary>A model with two task heads (classification and regression) trains on a batch that carries a target per head.</summary>
public class MultiHeadTrainingTests
{
    private const int Features = 8, Hidden = 16, Classes = 3, Outputs = 4;

    /// <summary>x [N, 8] → Gemm(8→16) → Relu → {Gemm(16→3) class logits, Gemm(16→4) regression}.</summary>
    private static (OnnxModel Model, string Logits, string Regression) TwoHeads(int seed)
    {
        var r = new Random(seed);
        float[] Rand(int n, float scale) => Enumerable.Range(0, n).Select(_ => (r.NextSingle() * 2 - 1) * scale).ToArray();
        var b = new GraphBuilder(opset: 17);
        var x = b.Input("x", ElementType.Float, "N", Features);
        var h = b.Relu(b.Gemm(x, b.Initializer("trunk.w", Rand(Hidden * Features, 0.5f), Hidden, Features), b.Initializer("trunk.b", new float[Hidden], Hidden), transB: true));
        var logits = b.Gemm(h, b.Initializer("cls.w", Rand(Classes * Hidden, 0.3f), Classes, Hidden), b.Initializer("cls.b", new float[Classes], Classes), transB: true);
        var regression = b.Gemm(h, b.Initializer("reg.w", Rand(Outputs * Hidden, 0.3f), Outputs, Hidden), b.Initializer("reg.b", new float[Outputs], Outputs), transB: true);
        b.Output(logits, ElementType.Float, "N", Classes);
        b.Output(regression, ElementType.Float, "N", Outputs);
        return (b.Build(), logits.Name, regression.Name);
    }

    /// <summary>Inputs uniform in [−1, 1); class = arg max of a fixed linear map; regression target = another fixed linear map.</summary>
    private static TensorDataset Data(int count, int seed)
    {
        var r = new Random(seed);
        var teacher = new Random(99);
        var a = Enumerable.Range(0, Classes * Features).Select(_ => teacher.NextSingle() * 2 - 1).ToArray();
        var m = Enumerable.Range(0, Outputs * Features).Select(_ => teacher.NextSingle() * 2 - 1).ToArray();
        var x = new float[count * Features];
        var labels = new long[count];
        var y = new float[count * Outputs];
        for (int n = 0; n < count; n++)
        {
            for (int f = 0; f < Features; f++) x[n * Features + f] = r.NextSingle() * 2 - 1;
            var row = x.AsSpan(n * Features, Features).ToArray();
            float Dot(float[] w, int k) { float s = 0; for (int f = 0; f < Features; f++) s += w[k * Features + f] * row[f]; return s; }
            labels[n] = Enumerable.Range(0, Classes).MaxBy(k => Dot(a, k));
            for (int o = 0; o < Outputs; o++) y[n * Outputs + o] = 0.5f * Dot(m, o);
        }
        return new TensorDataset("two-task", new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray<float>(x, count, Features) },
            new Dictionary<string, Tensor>
            {
                ["class"] = Tensor.FromArray<long>(labels, count),
                ["regression"] = Tensor.FromArray<float>(y, count, Outputs),
            });
    }

    private sealed class Collect : IProgress<TrainingProgress>
    {
        public List<TrainingProgress> Reports { get; } = new();
        public void Report(TrainingProgress value) => Reports.Add(value);
    }

    [Test]
    public async Task CrossEntropyAndMseHeadsBothLearn()
    {
        var (model, logits, regression) = TwoHeads(seed: 3);
        var train = Data(512, seed: 1);
        var test = Data(256, seed: 2);
        LossOptions[] heads =
        [
            LossOptions.CrossEntropy(logits, target: "class"),
            LossOptions.MeanSquared(regression, target: "regression", weight: 2f),
        ];
        var options = new TrainerOptions
        {
            BatchSize = 32, Steps = 200, Seed = 4, IntraOpThreads = 1, ProgressInterval = 20, Losses = heads,
            Schedule = new LearningRateSchedule { BaseRate = 0.05f, Kind = ScheduleKind.Constant },
        };
        using var trainer = new Trainer(model, options);
        Assert.That(trainer.Graph.Heads.Select(h => h.Output), Is.EqualTo(new[] { logits, regression }));
        Assert.That(trainer.Graph.Heads.Select(h => h.LossOutput).Distinct().Count(), Is.EqualTo(2), "each head reports its own loss");

        var before = Evaluator.Evaluate(model, test, heads);
        var progress = new Collect();
        var result = await trainer.TrainAsync(train, test, progress);

        var first = progress.Reports[0].HeadLosses!;
        var last = progress.Reports[^1].HeadLosses!;
        Assert.That(last[logits], Is.LessThan(first[logits] * 0.7), $"cross-entropy {first[logits]:F4} → {last[logits]:F4}");
        Assert.That(last[regression], Is.LessThan(first[regression] * 0.5), $"MSE {first[regression]:F4} → {last[regression]:F4}");
        Assert.That(progress.Reports[^1].Loss, Is.EqualTo(last[logits] + 2 * last[regression]).Within(1e-4), "total = Σ weight·head loss");

        // Scored on held-out data, per head, with the exported forward model.
        var after = result.Evaluation!;
        Assert.That(after.Heads!.Select(h => h.Output), Is.EqualTo(new[] { logits, regression }));
        Assert.That(after.Heads![0].Loss, Is.LessThan(before.Heads![0].Loss));
        Assert.That(after.Heads![1].Loss, Is.LessThan(before.Heads![1].Loss * 0.5));
        Assert.That(after.Accuracy, Is.GreaterThan(0.7), "3 linearly separable classes");
        Assert.That(double.IsNaN(after.Heads![1].Accuracy), "a regression head has no accuracy");
        var again = Evaluator.Evaluate(trainer.ExportModel(), test, heads);
        Assert.That(again.Heads![1].Loss, Is.EqualTo(after.Heads![1].Loss).Within(1e-9));
    }

    [Test]
    public void AHeadWhoseTargetIsMissingOrMistypedIsATypedErrorNamingIt()
    {
        var (model, logits, regression) = TwoHeads(seed: 3);
        var data = Data(64, seed: 1);
        var options = new TrainerOptions { BatchSize = 16, Steps = 1, Losses = [LossOptions.CrossEntropy(logits, "class"), LossOptions.MeanSquared(regression, "depth")] };
        using (var trainer = new Trainer(model, options))
        {
            var e = Assert.ThrowsAsync<UnsupportedModelException>(() => trainer.TrainAsync(data))!;
            Assert.That(e.Message, Does.Contain("'depth'").And.Contain("'regression'"));
        }
        options = options with { Losses = [LossOptions.CrossEntropy(logits, "regression"), LossOptions.MeanSquared(regression, "regression")] };
        using (var trainer = new Trainer(model, options))
        {
            var e = Assert.ThrowsAsync<UnsupportedModelException>(() => trainer.TrainAsync(data))!;
            Assert.That(e.Message, Does.Contain(logits).And.Contain("int64"));
        }
        Assert.Throws<ArgumentException>(() => new Trainer(model, options with { Losses = [LossOptions.MeanSquared("no-such-output")] }));
        Assert.Throws<ArgumentException>(() => new Trainer(model, options with { Losses = [LossOptions.CrossEntropy(logits), LossOptions.MeanSquared(logits)] }), "one loss per output");
    }
}
