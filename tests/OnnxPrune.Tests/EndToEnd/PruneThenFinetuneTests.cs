using OnnxPrune.Analysis;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Training;

namespace OnnxPrune.Tests.EndToEnd;

/// <summary>
/// The acceptance scenario on the embedded default model: prune fmnist-resnet to 50 % and fine-tune 300
/// steps on a 3-class task; the result must come within 2 points of the unpruned model fine-tuned the same way.
/// </summary>
public class PruneThenFinetuneTests
{
    private static readonly int[] TaskClasses = [0, 3, 7];

    private static string EmbeddedModel(string name)
    {
        var path = Path.Combine(TestPaths.RepoRoot, "onnx-models", name);
        if (!File.Exists(path)) Assert.Fail($"{path} is missing.");
        return path;
    }

    private static async Task<double> FinetuneAndEvaluate(OnnxModel model, ImageDataset train, ImageDataset test)
    {
        var options = new TrainerOptions
        {
            BatchSize = 64, Steps = 300, Seed = 1, IntraOpThreads = 2,
            BatchNorm = BatchNormMode.BatchStatistics,
            Optimizer = new OptimizerOptions { Kind = OptimizerKind.Sgd, Momentum = 0.9f, WeightDecay = 5e-4f },
            Schedule = new LearningRateSchedule { BaseRate = 0.01f, Kind = ScheduleKind.Cosine },
        };
        using var trainer = new Trainer(model, options);
        await trainer.TrainAsync(train);
        return Evaluator.Evaluate(trainer.ExportModel(), test).Accuracy;
    }

    [Test]
    public async Task HalfPrunedResNetRecoversToWithinTwoPointsOfTheUnprunedOne()
    {
        var train = TaskData.ForTask(FashionMnist.Load(train: true), TaskClasses, 10);
        var test = TaskData.ForTask(FashionMnist.Load(train: false), TaskClasses, 10);

        var pruned = OnnxModel.Load(EmbeddedModel("fmnist-resnet.onnx"));
        var before = ModelSummary.Of(pruned).Parameters;
        await Pruner.Default.PruneAsync(pruned, new PruneOptions { Criterion = new OnnxPrune.Pruning.Importance.MagnitudeCriterion(2), Budget = new UniformRatioBudget(0.5) });
        var after = ModelSummary.Of(pruned).Parameters;
        Assert.That(after, Is.LessThan(before * 0.6), "half the channels of coupled layers leave well under 60 % of the parameters");

        double prunedAccuracy = await FinetuneAndEvaluate(pruned, train, test);
        double fullAccuracy = await FinetuneAndEvaluate(OnnxModel.Load(EmbeddedModel("fmnist-resnet.onnx")), train, test);
        TestContext.Out.WriteLine($"params {before} → {after}; task accuracy pruned+tuned {prunedAccuracy:P2}, unpruned+tuned {fullAccuracy:P2}");
        Assert.That(fullAccuracy, Is.GreaterThan(0.9), "the reference fine-tune itself works");
        Assert.That(prunedAccuracy, Is.GreaterThanOrEqualTo(fullAccuracy - 0.02));
    }
}
