using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Tensors;
using OnnxPrune.Training;

namespace OnnxPrune.Tests.Training;

/// <summary>Training shapes come from the one static engine; ONNX Runtime is probed only where it cannot answer, at most
/// once per model in a finetune (BN recalibration + trainer).</summary>
public class TrainingShapesTests
{
    private static ImageDataset? _train;
    private static ImageDataset Train => _train ??= FashionMnist.Load(train: true).TakePerClass(8, seed: 1);

    private static TrainerOptions Options => new()
    {
        BatchSize = 16, Steps = 1, IntraOpThreads = 1,
        Optimizer = new OptimizerOptions { Kind = OptimizerKind.Sgd },
        Schedule = new LearningRateSchedule { BaseRate = 0.01f, Kind = ScheduleKind.Constant },
    };

    [Test]
    public void AFinetuneOfAStandardCnnNeverProbes()
    {
        var model = TrainerTests.TinyCnn(seed: 4);
        int before = TrainingShapes.ProbeCount;
        BatchNormRecalibrator.Recalibrate(model, Train, batches: 1, batchSize: 16);
        using (new Trainer(model, Options)) { }
        Assert.That(TrainingShapes.ProbeCount - before, Is.EqualTo(0));
    }

    [Test]
    public void AModelTheStaticEngineCannotAnswerIsProbedOncePerFinetune()
    {
        // TinyCnn with Log(Relu(·) + 1) after the BN block: Log has a gradient rule but no shape rule.
        var r = new Random(2);
        float[] Rand(int n, float scale) => Enumerable.Range(0, n).Select(_ => (r.NextSingle() * 2 - 1) * scale).ToArray();
        var b = new GraphBuilder(opset: 17);
        var x = b.Input("image", ElementType.Float, "N", 1, 28, 28);
        var h = b.Conv(x, b.Initializer("c1.w", Rand(54, 0.5f), 6, 1, 3, 3), b.Initializer("c1.b", new float[6], 6), strides: [2, 2], pads: [1, 1, 1, 1]);
        h = b.Relu(b.BatchNorm(h, b.Initializer("bn.s", Enumerable.Repeat(1f, 6).ToArray(), 6), b.Initializer("bn.b", new float[6], 6),
            b.Initializer("bn.m", new float[6], 6), b.Initializer("bn.v", Enumerable.Repeat(1f, 6).ToArray(), 6)));
        h = b.Op("Log", [b.Op("Add", [h, b.Initializer("one", Tensor.Scalar(1f))])]);
        var logits = b.Gemm(b.Flatten(h), b.Initializer("fc.w", Rand(10 * 6 * 14 * 14, 0.05f), 10, 6 * 14 * 14), b.Initializer("fc.b", new float[10], 10), transB: true);
        b.Output(logits, ElementType.Float, "N", 10);
        var model = b.Build();

        var copy = OnnxModel.FromBytes(model.ToBytes());
        Assert.That(TrainingShapes.Static(copy, new Dictionary<string, long[]> { ["image"] = [16, 1, 28, 28] }).Complete, Is.False,
            "the static engine cannot answer past Log (else this test tests nothing)");
        int before = TrainingShapes.ProbeCount;
        BatchNormRecalibrator.Recalibrate(model, Train, batches: 1, batchSize: 16);   // changes BN statistics, not the structure
        using (new Trainer(model, Options)) { }
        Assert.That(TrainingShapes.ProbeCount - before, Is.LessThanOrEqualTo(1));
    }

    [TestCaseSource(typeof(TestPaths), nameof(TestPaths.SharedModelNames))]
    public void StaticShapesAgreeWithOnnxRuntimeOnSharedModels(string name)
    {
        var model = OnnxModel.Load(TestPaths.SharedModel(name));
        var shapes = model.Graph.DataInputs.ToDictionary(v => v.Name, v => v.Shape!.Select((d, i) => d.Value ?? (i == 0 ? 2L : 64L)).ToArray());
        var (resolved, complete) = TrainingShapes.Static(OnnxModel.FromBytes(model.ToBytes()), shapes);
        var probed = ShapeProbe.Run(model, shapes);
        int compared = 0;
        foreach (var (value, s) in resolved)
        {
            if (!probed.TryGetValue(value, out var p)) continue;
            var where = $"{value} ({model.Graph.FindValue(value)?.Producer?.OpType ?? "input"})";
            Assert.That(s.Type, Is.EqualTo(p.Type), where);
            Assert.That(s.Shape, Is.EqualTo(p.Shape), where);
            if (s.Value is not null && p.Value is not null) Assert.That(s.Value.ToInt64Array(), Is.EqualTo(p.Value.ToInt64Array()), where);
            compared++;
        }
        TestContext.Out.WriteLine($"{name}: {compared} values agree; static answer {(complete ? "complete" : "partial")} ({resolved.Count}/{probed.Count})");
        Assert.That(compared, Is.GreaterThan(0));
    }
}
