using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;
using OnnxPrune.Training;

namespace OnnxPrune.Tests.Training;

/// <summary>End-to-end training on a few hundred Fashion-MNIST images with a tiny CNN.</summary>
public class TrainerTests
{
    private static ImageDataset? _train, _test;
    private static ImageDataset Train => _train ??= FashionMnist.Load(train: true).TakePerClass(40, seed: 1);
    private static ImageDataset Test => _test ??= FashionMnist.Load(train: false).TakePerClass(20, seed: 2);

    /// <summary>Conv(1→6, 3×3, stride 2) → BN → Relu → Conv(6→8, 3×3, stride 2) → Relu → Flatten → Gemm(392→10).</summary>
    internal static OnnxModel TinyCnn(int seed = 1, bool constantNodes = false)
    {
        var r = new Random(seed);
        float[] Rand(int n, float scale) => Enumerable.Range(0, n).Select(_ => (r.NextSingle() * 2 - 1) * scale).ToArray();
        var b = new GraphBuilder(opset: 17);
        Value W(string name, float[] values, params long[] shape) =>
            constantNodes ? b.ConstantNode(Tensor.FromArray<float>(values, shape), name) : b.Initializer(name, values, shape);
        var x = b.Input("image", ElementType.Float, "N", 1, 28, 28);
        var h = b.Conv(x, W("conv1.w", Rand(54, 0.5f), 6, 1, 3, 3), W("conv1.b", new float[6], 6), strides: [2, 2], pads: [1, 1, 1, 1]);
        h = b.Relu(b.BatchNorm(h, W("bn.scale", Enumerable.Repeat(1f, 6).ToArray(), 6), W("bn.bias", new float[6], 6),
            W("bn.mean", new float[6], 6), W("bn.var", Enumerable.Repeat(1f, 6).ToArray(), 6)));
        h = b.Relu(b.Conv(h, W("conv2.w", Rand(432, 0.2f), 8, 6, 3, 3), null, strides: [2, 2], pads: [1, 1, 1, 1]));
        var logits = b.Gemm(b.Flatten(h), W("fc.w", Rand(3920, 0.05f), 10, 392), W("fc.b", new float[10], 10), transB: true);
        b.Output(logits, ElementType.Float, "N", 10);
        return b.Build();
    }

    private static TrainerOptions Options(int steps, int seed = 5) => new()
    {
        BatchSize = 32, Steps = steps, Seed = seed, IntraOpThreads = 1, ProgressInterval = 10,
        BatchNorm = BatchNormMode.Frozen, // these tests fix BN statistics (the library default is batch statistics)
        Optimizer = new OptimizerOptions { Kind = OptimizerKind.Sgd, Momentum = 0.9f },
        Schedule = new LearningRateSchedule { BaseRate = 0.1f, Kind = ScheduleKind.Constant },
    };

    private sealed class Collect : IProgress<TrainingProgress>
    {
        public List<TrainingProgress> Reports { get; } = new();
        public void Report(TrainingProgress value) => Reports.Add(value);
    }

    [Test]
    public void DivergenceStopsWithATypedErrorNamingTheStep()
    {
        // A learning rate of 1e6 sends the weights to infinity within a few steps.
        // (Gradient clipping off: with it on, this model survives even that rate.)
        var options = Options(40) with { Schedule = new LearningRateSchedule { BaseRate = 1e6f, Kind = ScheduleKind.Constant }, GradientClipNorm = 0 };
        using var trainer = new Trainer(TinyCnn(), options);
        var e = Assert.ThrowsAsync<TrainingDivergedException>(() => trainer.TrainAsync(Train, null, null));
        Assert.That(e!.Message, Does.Contain("at step").And.Contain("Lower the learning rate"));
        Assert.That(e.Message, Does.Contain("turn gradient clipping back on").And.Contain("batch statistics"), "frozen BN in a model with BN");
        Assert.That(trainer.StepsDone, Is.LessThan(40));
    }

    [Test]
    public void TheDivergenceHintOfAModelWithoutBatchNormDoesNotMentionIt()
    {
        var r = new Random(1);
        var b = new GraphBuilder(opset: 17);
        var x = b.Input("image", ElementType.Float, "N", 1, 28, 28);
        var h = b.Relu(b.Gemm(b.Flatten(x), b.Initializer("fc1", Enumerable.Range(0, 32 * 784).Select(_ => r.NextSingle() - 0.5f).ToArray(), 32, 784), transB: true));
        b.Output(b.Gemm(h, b.Initializer("fc2", Enumerable.Range(0, 320).Select(_ => r.NextSingle() - 0.5f).ToArray(), 10, 32), transB: true), ElementType.Float, "N", 10);
        var options = Options(40) with { Schedule = new LearningRateSchedule { BaseRate = 1e30f, Kind = ScheduleKind.Constant }, GradientClipNorm = 0 };
        using var trainer = new Trainer(b.Build(), options);
        var e = Assert.ThrowsAsync<TrainingDivergedException>(() => trainer.TrainAsync(Train, null, null));
        Assert.That(e!.Message, Does.Contain("Lower the learning rate").And.Contain("warm-up"));
        Assert.That(e.Message, Does.Not.Contain("BatchNormalization").And.Not.Contain("--bn"));
    }

    [Test]
    public async Task GradientClippingScalesLargeGradientsAndIsReported()
    {
        using var clipped = new Trainer(TinyCnn(), Options(5) with { GradientClipNorm = 1e-3f });
        var result = await clipped.TrainAsync(Train, null, null);
        Assert.That(result.ClippedSteps, Is.EqualTo(5), "every step's gradient norm exceeds 1e-3");
        using var free = new Trainer(TinyCnn(), Options(5) with { GradientClipNorm = 0 });
        Assert.That((await free.TrainAsync(Train, null, null)).ClippedSteps, Is.Zero);
        Assert.That(clipped.ExportModel().Graph.Initializers.Single(c => c.Name == "fc.w").Data.ToFloatArray(),
            Is.Not.EqualTo(free.ExportModel().Graph.Initializers.Single(c => c.Name == "fc.w").Data.ToFloatArray()));
    }

    [Test]
    public async Task TrainingReducesTheLoss()
    {
        using var trainer = new Trainer(TinyCnn(), Options(60));
        var progress = new Collect();
        await trainer.TrainAsync(Train, null, progress);
        Assert.That(progress.Reports, Has.Count.EqualTo(6));
        double first = progress.Reports[0].Loss, last = progress.Reports[^1].Loss;
        Assert.That(first, Is.GreaterThan(2.0), "an untrained 10-way classifier starts near ln 10");
        Assert.That(last, Is.LessThan(first * 0.8), $"loss went {first:F3} → {last:F3}");
        Assert.That(progress.Reports.Select(p => p.Step), Is.EqualTo(new[] { 10, 20, 30, 40, 50, 60 }));
        Assert.That(progress.Reports.All(p => p.ImagesPerSecond > 0 && p.Accuracy is >= 0 and <= 1));
    }

    [Test]
    public async Task EvaluationStepsEvaluateAtExactlyThoseStepsAndTheLast()
    {
        using var trainer = new Trainer(TinyCnn(), Options(12) with { ProgressInterval = 100, EvaluationSteps = [3, 7] });
        var progress = new Collect();
        var result = await trainer.TrainAsync(Train, Test, progress);
        var evaluated = progress.Reports.Where(r => r.Evaluation is not null).Select(r => r.Step).ToArray();
        Assert.That(evaluated, Is.EqualTo(new[] { 3, 7, 12 }));
        Assert.That(progress.Reports.Single(r => r.Step == 12).Evaluation!.Accuracy, Is.EqualTo(result.Evaluation!.Accuracy));
    }

    [Test]
    public async Task ExportedModelReproducesTheReportedAccuracyAndHasNoTrainingParts()
    {
        var original = TinyCnn();
        using var trainer = new Trainer(original, Options(20));
        var result = await trainer.TrainAsync(Train, Test);
        var path = Path.Combine(TestPaths.TempDir(), "tuned.onnx");
        trainer.ExportModel().Save(path);
        var reloaded = OnnxModel.Load(path);

        var again = Evaluator.Evaluate(reloaded, Test);
        Assert.That(again.Accuracy, Is.EqualTo(result.Evaluation!.Accuracy));
        Assert.That(again.Loss, Is.EqualTo(result.Evaluation.Loss).Within(1e-9));

        // Same graph as the original: op sequence, inputs, outputs, constant names; only the weights changed.
        Assert.That(reloaded.Graph.Nodes.Select(n => n.OpType), Is.EqualTo(original.Graph.Nodes.Select(n => n.OpType)));
        Assert.That(reloaded.Graph.Inputs.Select(v => v.Name), Is.EqualTo(new[] { "image" }));
        Assert.That(reloaded.Graph.Outputs.Select(v => v.Name), Is.EqualTo(original.Graph.Outputs.Select(v => v.Name)));
        Assert.That(reloaded.Graph.Initializers.Select(c => c.Name), Is.EqualTo(original.Graph.Initializers.Select(c => c.Name)));
        var before = original.Graph.Constants.ToDictionary(c => c.Name, c => c.Data.AsSpan<float>().ToArray());
        foreach (var c in reloaded.Graph.Constants)
        {
            var changed = !c.Data.AsSpan<float>().SequenceEqual(before[c.Name]);
            bool frozen = c.Name is "bn.mean" or "bn.var";
            Assert.That(changed, Is.EqualTo(!frozen), $"{c.Name} changed");
        }
    }

    [Test]
    public async Task ConstantNodeWeightsStayConstantNodes()
    {
        var original = TinyCnn(constantNodes: true);
        using var trainer = new Trainer(original, Options(5));
        Assert.That(trainer.Graph.Parameters.Select(p => p.Name), Is.EquivalentTo(new[] { "conv1.w", "conv1.b", "bn.scale", "bn.bias", "conv2.w", "fc.w", "fc.b" }));
        await trainer.TrainAsync(Train);
        var exported = trainer.ExportModel();
        Assert.That(exported.Graph.Initializers, Is.Empty);
        Assert.That(exported.Graph.Constants.Count(), Is.EqualTo(original.Graph.Constants.Count()));
        Assert.That(exported.Graph.Constants.All(c => c.Kind == ConstantKind.ConstantNode));
        var w0 = original.Graph.Constants.Single(c => c.Name == "fc.w").Data.AsSpan<float>().ToArray();
        var w1 = exported.Graph.Constants.Single(c => c.Name == "fc.w").Data.AsSpan<float>().ToArray();
        Assert.That(w1, Is.Not.EqualTo(w0));
    }

    [Test]
    public async Task SameSeedGivesIdenticalWeightsAndOtherSeedsDiffer()
    {
        async Task<byte[]> Run(int seed)
        {
            using var trainer = new Trainer(TinyCnn(), Options(8, seed) with { Augmentation = new Augmentation { RandomCropPadding = 2, HorizontalFlip = true } });
            await trainer.TrainAsync(Train);
            return trainer.ExportModel().Graph.Constants.SelectMany(c => c.Data.RawData).ToArray();
        }
        var a = await Run(11);
        var b = await Run(11);
        var c = await Run(12);
        Assert.That(a, Is.EqualTo(b));
        Assert.That(c, Is.Not.EqualTo(a));
    }

    [Test]
    public void CancellationStopsTraining()
    {
        using var trainer = new Trainer(TinyCnn(), Options(100000));
        using var cts = new CancellationTokenSource();
        var progress = new SyncProgress(_ => cts.Cancel());
        Assert.That(async () => await trainer.TrainAsync(Train, null, progress, cts.Token), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(trainer.StepsDone, Is.EqualTo(10), "stops at the first step after the first report");
    }

    [Test]
    public async Task BatchStatisticsModeUpdatesRunningStatistics()
    {
        using var trainer = new Trainer(TinyCnn(), Options(10) with { BatchNorm = BatchNormMode.BatchStatistics });
        await trainer.TrainAsync(Train);
        var exported = trainer.ExportModel();
        var mean = exported.Graph.Constants.Single(c => c.Name == "bn.mean").Data.AsSpan<float>().ToArray();
        Assert.That(mean.Any(v => v != 0), "running means moved away from their initial zeros");
        Assert.That(exported.Graph.Nodes.Count(n => n.OpType == "BatchNormalization"), Is.EqualTo(1), "the exported model keeps BN");
    }

    [Test]
    public async Task DistillationFromATeacherTrains()
    {
        var teacher = TinyCnn(seed: 9);
        using var trainer = new Trainer(TinyCnn(), Options(30) with { Teacher = teacher, Loss = new LossOptions { DistillationWeight = 0.7f, Temperature = 2f } });
        Assert.That(trainer.Graph.TeacherInput, Is.Not.Null);
        var progress = new Collect();
        await trainer.TrainAsync(Train, null, progress);
        Assert.That(progress.Reports[^1].Loss, Is.LessThan(progress.Reports[0].Loss));
    }

    [Test]
    public void RecalibrationEstimatesTheStatisticsOfTheBnInput()
    {
        // x → Conv → BN: after recalibration from the whole set the BN mean is the conv output's per-channel mean.
        var model = TinyCnn();
        var data = Train;
        int batch = 40, batches = data.Count / batch;
        var result = BatchNormRecalibrator.Recalibrate(model, data, batches, batch, seed: 3);
        Assert.That(result, Is.EqualTo(new RecalibrationResult(1, data.Count)));

        // Reference: expose the conv output and average it in C#.
        var probe = OnnxModel.FromBytes(model.ToBytes());
        var conv = probe.Graph.Nodes.First(n => n.OpType == "Conv").Output(0)!;
        probe.Graph.AddOutput(conv);
        using var session = OrtSessions.Create(probe);
        var sum = new double[6];
        var sq = new double[6];
        long perChannel = 0;
        foreach (var (images, _) in new BatchSampler(data, 64, 0, shuffle: false).Epochs())
        {
            var y = session.RunTensors(new Dictionary<string, Tensor> { ["image"] = images }, [conv.Name])[conv.Name];
            var s = y.AsSpan<float>();
            long n = y.Shape[0], hw = y.Shape[2] * y.Shape[3];
            for (long i = 0; i < n; i++)
                for (int c = 0; c < 6; c++)
                    for (long p = 0; p < hw; p++) { double v = s[(int)((i * 6 + c) * hw + p)]; sum[c] += v; sq[c] += v * v; }
            perChannel += n * hw;
        }
        var mean = model.Graph.Constants.Single(c => c.Name == "bn.mean").Data.AsSpan<float>().ToArray();
        var variance = model.Graph.Constants.Single(c => c.Name == "bn.var").Data.AsSpan<float>().ToArray();
        for (int c = 0; c < 6; c++)
        {
            double m = sum[c] / perChannel, v = sq[c] / perChannel - m * m;
            Assert.That(mean[c], Is.EqualTo(m).Within(1e-4 + 1e-4 * Math.Abs(m)), $"mean[{c}]");
            // Averaged per-batch variances miss the spread of the batch means: a few percent on 40-image batches.
            Assert.That(variance[c], Is.EqualTo(v).Within(0.05 * v + 1e-6), $"var[{c}]");
        }
    }

    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
