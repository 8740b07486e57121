using NUnit.Framework;
using OnnxPrune.Graph;
using OnnxPrune.MultiTask;
using OnnxPrune.Pruning;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.MultiTask;

public class ReinitializerTests
{
    private static readonly SessionSettings OneThread = new() { IntraOpThreads = 1, AllowSpinning = false };

    private static ConstantTensor Constant(OnnxModel model, string name) => model.Graph.Constants.Single(c => c.Name == name);

    private static float[] Values(OnnxModel model, string name) => Constant(model, name).Data!.AsSpan<float>().ToArray();

    private static void SetValues(OnnxModel model, string name, float[] values)
    {
        var c = Constant(model, name);
        c.Data = Tensor.FromArray(values, c.Shape.ToArray());
    }

    [Test]
    public void ReinitKeepsWhatTheTrainerCannotTrainAndStartsTheOutputConvAtZero()
    {
        var model = MultiTaskModels.ThreeHeads();
        SetValues(model, "c.b", [0.3f]); // the reconstruction head's one-element bias (the data mean): not trainable
        int count = Reinitializer.Apply(model, seed: 7);

        Assert.That(Values(model, "c.b"), Is.EqualTo(new[] { 0.3f }), "a one-element bias is never trained: zeroed, its offset would be lost for good");
        Assert.That(Values(model, "c.w"), Has.All.EqualTo(0f), "the output conv starts at zero: the head starts at its bias");
        var s1 = Values(model, "s1.w");
        double std = Math.Sqrt(s1.Select(v => (double)v * v).Average());
        Assert.That(std, Is.EqualTo(Math.Sqrt(2.0 / 9)).Within(40).Percent, "He-normal for a conv that feeds a ReLU");
        Assert.That(Values(model, "s1.b"), Has.All.EqualTo(0f));
        Assert.That(Values(model, "a.fc.w").Max(Math.Abs), Is.LessThanOrEqualTo(Math.Sqrt(6.0 / (3 + 4))), "Xavier-uniform Gemm");
        Assert.That(count, Is.EqualTo(11), "s1.w/b, s2.w/b, a.conv.w/b, a.fc.w/b, b.fc.w/b, c.w (not c.b)");
    }

    [Test]
    public void ReinitIsSeededAndResetsBatchNormStatistics()
    {
        OnnxModel Fresh(int seed)
        {
            var m = OnnxModel.FromBytes(File.ReadAllBytes(Path.Combine(TestPaths.RepoRoot, "onnx-models", "fmnist-multitask.onnx")), "fmnist-multitask");
            Reinitializer.Apply(m, seed);
            return m;
        }
        var a = Fresh(3);
        Assert.That(Fresh(3).ToBytes(), Is.EqualTo(a.ToBytes()));
        Assert.That(Values(Fresh(4), "stem.weight"), Is.Not.EqualTo(Values(a, "stem.weight")));
        Assert.That(Values(a, "layer2.conv1.bn.running_mean"), Has.All.EqualTo(0f));
        Assert.That(Values(a, "layer2.conv1.bn.running_var"), Has.All.EqualTo(1f));
        Assert.That(Values(a, "recon.out.weight"), Has.All.EqualTo(0f));
        Assert.That(Values(a, "recon.out.bias"), Is.EqualTo(new[] { 0.286f }), "one element: kept");
    }

    [Test]
    public void ConstantOutputTasksNamesTheHeadsOfADeadNetworkAndNoneOfAHealthyOne()
    {
        var healthy = MultiTaskModels.ThreeHeads();
        var data = MultiTaskModels.Data(40, 5);
        Assert.That(MultiTaskEvaluator.ConstantOutputTasks(healthy, MultiTaskModels.Tasks, data, 32, OneThread), Is.Empty);

        var dead = MultiTaskModels.ThreeHeads();
        SetValues(dead, "s2.w", new float[6 * 6 * 9]);
        SetValues(dead, "s2.b", Enumerable.Repeat(-1f, 6).ToArray()); // Relu(−1) = 0: nothing reaches the heads
        Assert.That(MultiTaskEvaluator.ConstantOutputTasks(dead, MultiTaskModels.Tasks, data, 32, OneThread), Is.EqualTo(new[] { "a", "b", "c" }));

        var oneDead = MultiTaskModels.ThreeHeads();
        SetValues(oneDead, "c.w", new float[6 * 9]);
        Assert.That(MultiTaskEvaluator.ConstantOutputTasks(oneDead, MultiTaskModels.Tasks, data, 40, OneThread), Is.EqualTo(new[] { "c" }), "batches of 32 and 8");
    }

    [Test]
    public async Task TrainingTheReinitialisedArchitectureFromScratchLeavesChanceAndKeepsEveryHeadAlive()
    {
        var options = new MultiTaskPruneOptions
        {
            Tasks = MultiTaskModels.Tasks, Train = MultiTaskModels.Data(256, 1), Test = MultiTaskModels.Data(96, 2), Ratio = 0.5,
            PruneEvery = 2, PruneUnits = 2, Steps = 400, BatchSize = 16, Scoring = new GradientScoringOptions { Batches = 2, BatchSize = 8 }, IntraOpThreads = 1,
            Reinitialize = true,
        };
        var (pruned, report) = await MultiTaskPruner.Default.PruneAsync(MultiTaskModels.ThreeHeads(), options);
        Assert.That(report.Reinitialized, Is.True);
        Assert.That(report.CollapsedTasks, Is.Empty, "no head answers a constant: " + string.Join(", ", report.After!));
        var after = report.After!.ToDictionary(s => s.Task);
        Assert.That(after.Values.Select(s => s.Loss), Has.All.Matches<double>(double.IsFinite));
        Assert.That(after["a"].Value, Is.GreaterThan(0.5), "3 balanced classes: chance is 1/3");
        // Variance of the reconstruction target (the constant answer's MSE) on the test data.
        var target = options.Test!.GetBatch(Enumerable.Range(0, 96).ToArray()).Target("c").ToFloatArray();
        double mean = target.Average(v => (double)v), variance = target.Average(v => (v - mean) * (v - mean));
        Assert.That(after["c"].Value, Is.LessThan(0.8 * variance), "the reconstruction beats the constant answer");
        Assert.That(PruningSurgery.Parameters(pruned.Graph), Is.EqualTo(report.ParametersAfter));
    }
}
