using System.Text.Json;
using NUnit.Framework;
using OnnxPrune.Analysis;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.MultiTask;
using OnnxPrune.Pruning;
using OnnxPrune.Pruning.Importance;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;
using OnnxPrune.Training;

namespace OnnxPrune.Tests.MultiTask;

public class MultiTaskPruningTests
{
    private static readonly SessionSettings OneThread = new() { IntraOpThreads = 1, AllowSpinning = false };

    private static IReadOnlyDictionary<string, Tensor> Run(OnnxModel model, Tensor input)
    {
        using var session = OrtSessions.Create(model, OneThread);
        return session.RunTensors(new Dictionary<string, Tensor> { [model.Graph.DataInputs.First().Name] = input });
    }

    private static OnnxModel Annotated(OnnxModel model)
    {
        var copy = OnnxModel.FromBytes(model.ToBytes(), "copy");
        ShapeInference.Infer(copy.Graph, copy.GetOpset("")).WriteTo(copy.Graph);
        return copy;
    }

    [Test]
    public void GatesLeaveTheOutputsAsTheyAreAndComeOutCleanly()
    {
        var model = Annotated(MultiTaskModels.ThreeHeads());
        var analysis = DependencyAnalyzer.Analyze(model);
        var gated = GatedModel.Insert(model, analysis.Groups, analysis.Shapes);
        var prunable = analysis.Groups.Where(g => !g.IsBlocked).ToArray();
        Assert.That(prunable, Has.Length.EqualTo(3), "two shared convs and head a's conv");
        Assert.That(prunable.All(g => gated.Uses.ContainsKey(g.Id)), Is.True, "every prunable group meets a gate");
        Assert.That(gated.Model.Graph.Nodes.Count(n => n.OpType == "Mul"), Is.EqualTo(gated.Gates.Count));
        Assert.That(model.Graph.Nodes.Any(n => n.OpType == "Mul"), Is.False, "the original is not touched");
        var x = MultiTaskModels.Data(4, 3).Inputs.Values.First();
        var expected = Run(model, x);
        var actual = Run(gated.Model, x);
        foreach (var (name, t) in expected) Assert.That(actual[name].ToFloatArray(), Is.EqualTo(t.ToFloatArray()), name);

        var removed = OnnxModel.FromBytes(gated.Model.ToBytes(), "gated");
        Assert.That(GatedModel.Remove(removed), Is.EqualTo(gated.Gates.Count));
        Assert.That(removed.Graph.Nodes.Select(n => n.OpType).Order(), Is.EqualTo(model.Graph.Nodes.Select(n => n.OpType).Order()));
        Assert.That(removed.Graph.Initializers.Select(i => i.Name).Order(), Is.EqualTo(model.Graph.Initializers.Select(i => i.Name).Order()));
        foreach (var (name, t) in Run(removed, x)) Assert.That(t.ToFloatArray(), Is.EqualTo(expected[name].ToFloatArray()), name);
    }

    [Test]
    public void TaskReachSeparatesSharedGroupsFromHeads()
    {
        var model = MultiTaskModels.ThreeHeads();
        var groups = DependencyAnalyzer.Analyze(model).Groups;
        var reach = TaskReach.OutputsReached(model, groups, ["a", "b", "c"]);
        string Of(string conv) => string.Join(",", reach[groups.Single(g => !g.IsBlocked && g.ConstantSlices.Any(i => i.Value!.Name == conv && i.Axis == 0)).Id]);
        Assert.That(Of("s1.w"), Is.EqualTo("a,b,c"));
        Assert.That(Of("s2.w"), Is.EqualTo("a,b,c"));
        Assert.That(Of("a.conv.w"), Is.EqualTo("a"));
    }

    [Test]
    public async Task GateTaylorScoresADeadUnitZeroAndTheOthersAboveIt()
    {
        var model = MultiTaskModels.ThreeHeads(deadUnit: 2);
        var groups = DependencyAnalyzer.Analyze(model).Groups;
        var criterion = new GateTaylorCriterion(MultiTaskModels.Tasks.Losses, new GradientScoringOptions { Batches = 3, BatchSize = 8, Session = OneThread });
        var scores = await criterion.ScoreAsync(new ImportanceContext { Model = model, Groups = groups, Data = MultiTaskModels.Data(32, 1) });
        var first = groups.Single(g => !g.IsBlocked && g.ConstantSlices.Any(i => i.Value!.Name == "s1.w" && i.Axis == 0));
        Assert.That(scores.Count, Is.EqualTo(3));
        var s = scores[first.Id];
        Assert.That(s[2], Is.EqualTo(0), "a dead unit's gate has no effect on the loss");
        Assert.That(s.Where((_, u) => u != 2), Has.All.GreaterThan(0));
    }

    [Test]
    public async Task GradientCosineIsACosineOnSharedUnitsAndRanksHeadUnitsAboveThem()
    {
        var model = MultiTaskModels.ThreeHeads(deadUnit: 2);
        var groups = DependencyAnalyzer.Analyze(model).Groups;
        var criterion = new GradientCosineCriterion(MultiTaskModels.Tasks.Losses, new GradientScoringOptions { Batches = 3, BatchSize = 8, Session = OneThread });
        var scores = await criterion.ScoreAsync(new ImportanceContext { Model = model, Groups = groups, Data = MultiTaskModels.Data(32, 1) });
        PruningGroup Of(string conv) => groups.Single(g => !g.IsBlocked && g.ConstantSlices.Any(i => i.Value!.Name == conv && i.Axis == 0));
        var s1 = scores[Of("s1.w").Id];
        Assert.That(s1[2], Is.EqualTo(-1), "a dead unit ranks lowest");
        Assert.That(s1.Where((_, u) => u != 2), Has.All.InRange(-1.0, 1.0));
        Assert.That(s1.Where((_, u) => u != 2).Distinct().Count(), Is.GreaterThan(1), "units differ");
        Assert.That(scores[Of("s2.w").Id], Has.All.InRange(-1.0, 1.0));
        Assert.That(scores[Of("a.conv.w").Id], Has.All.InRange(1.0, 2.0), "head-only units rank above shared ones");
    }

    [TestCase(MultiTaskCriterion.Taylor, false)]
    [TestCase(MultiTaskCriterion.Cosine, false)]
    [TestCase(MultiTaskCriterion.Taylor, true)]
    public async Task TheScheduleProducesAValidSmallerModelAndLeavesTheCallersAlone(MultiTaskCriterion criterion, bool reinit)
    {
        var model = MultiTaskModels.ThreeHeads();
        var bytes = model.ToBytes();
        var options = new MultiTaskPruneOptions
        {
            Tasks = MultiTaskModels.Tasks, Train = MultiTaskModels.Data(64, 1), Test = MultiTaskModels.Data(32, 2), Criterion = criterion, Ratio = 0.5,
            PruneEvery = 2, PruneUnits = 2, Steps = 3, BatchSize = 8, Scoring = new GradientScoringOptions { Batches = 2, BatchSize = 8 }, IntraOpThreads = 1,
            Reinitialize = reinit,
        };
        var reports = new List<MultiTaskPruneProgress>();
        var (pruned, report) = await MultiTaskPruner.Default.PruneAsync(model, options, new Collect(reports));
        Assert.That(model.ToBytes(), Is.EqualTo(bytes), "the caller's model is not modified");
        Assert.That(report.ParametersAfter, Is.LessThan(report.ParametersBefore));
        Assert.That(PruningSurgery.Parameters(pruned.Graph), Is.EqualTo(report.ParametersAfter));
        Assert.That(report.Rounds.Count, Is.GreaterThanOrEqualTo(2), "shared pool 12 units, half removed, 2 per round");
        // Shared units: 12 → 6; head a's conv: 4 → 2; each group keeps its minimum (2 units).
        Assert.That(report.Widths.Where(w => w.Pool == "shared").Sum(w => w.Kept), Is.EqualTo(6));
        Assert.That(report.Widths.Single(w => w.Pool == "a").Kept, Is.EqualTo(2));
        Assert.That(report.Widths, Has.All.Matches<GroupWidth>(w => w.Kept >= 2));
        Assert.That(report.Reinitialized, Is.EqualTo(reinit));
        Assert.That(report.TrainingSteps, Is.EqualTo(report.Rounds.Count * 2 + 3), "rounds × S + fine-tuning (or the same budget from scratch)");
        Assert.That(report.After!.Select(s => s.Task), Is.EqualTo(new[] { "a", "b", "c" }));
        Assert.That(reports.Count(r => r.Stage == MultiTaskStage.Prune), Is.EqualTo(report.Rounds.Count));
        Assert.That(reports.Where(r => r.Stage == MultiTaskStage.Prune).All(r => r.Scores!.Count == 3), Is.True, "progress per task each round");

        var outputs = Run(pruned, MultiTaskModels.Data(4, 3).Inputs.Values.First());
        Assert.That(outputs["a"].Dims.ToArray(), Is.EqualTo(new long[] { 4, 3 }));
        Assert.That(outputs["b"].Dims.ToArray(), Is.EqualTo(new long[] { 4, 2 }));
        Assert.That(outputs["c"].Dims.ToArray(), Is.EqualTo(new long[] { 4, 1, 8, 8 }));
        var path = Path.Combine(TestPaths.TempDir(), "pruned.onnx");
        pruned.Save(path);
        var py = Processes.RunPython("check_model.py", path);
        Assert.That(py.ExitCode, Is.EqualTo(0), py.ToString());
    }

    [Test]
    public void AnUnreachableParameterTargetFailsWithAConstraintError()
    {
        var model = MultiTaskModels.ThreeHeads();
        var options = new MultiTaskPruneOptions
        {
            Tasks = MultiTaskModels.Tasks, Train = MultiTaskModels.Data(32, 1), TargetParameters = 10, PruneEvery = 0, PruneUnits = 100, Steps = 0,
            BatchSize = 8, Scoring = new GradientScoringOptions { Batches = 1, BatchSize = 8 }, IntraOpThreads = 1,
        };
        Assert.That(async () => await MultiTaskPruner.Default.PruneAsync(model, options),
            Throws.InstanceOf<PruningConstraintException>().With.Message.Contain("out of reach"));
        Assert.That(() => MultiTaskPruner.Default.PruneAsync(model, options with { Ratio = 0.5 }), Throws.ArgumentException);
        var wrong = new MultiTaskSpec([new TaskSpec("a", "nope", TaskTarget.Label, LossKind.SoftmaxCrossEntropy, 1, TaskMetric.Accuracy)], "wrong.yaml");
        Assert.That(() => MultiTaskPruner.Default.PruneAsync(model, options with { Tasks = wrong }),
            Throws.InstanceOf<UnsupportedModelException>().With.Message.Contain("'nope'"));
    }

    /// <summary>
    /// The shared real model with three outputs (descriptors, keypoint logits, reliability): its groups split into a shared
    /// backbone and per-output heads, and one Taylor round (targets: the model's own outputs, MSE) prunes both with the
    /// outputs' shapes kept.
    /// </summary>
    [Test]
    public async Task XFeatAnalysesAndPrunesWithItsHeadsRespected()
    {
        var model = OnnxModel.Load(TestPaths.SharedModel("xfeat_256.onnx"));
        var outputs = model.Graph.Outputs.Select(o => o.Name).ToArray();
        Assert.That(outputs, Has.Length.EqualTo(3));
        var groups = DependencyAnalyzer.Analyze(model).Groups;
        var reach = TaskReach.OutputsReached(model, groups, outputs);
        Assert.That(reach.Values.Count(r => r.Count > 1), Is.GreaterThan(0), "a shared backbone");
        Assert.That(reach.Values.Count(r => r.Count == 1), Is.GreaterThan(0), "head-only groups");

        var random = new Random(5);
        var x = Tensor.FromArray<float>(Enumerable.Range(0, 3 * 256 * 256).Select(_ => (float)random.NextDouble()).ToArray(), 1, 3, 256, 256);
        var dense = Run(model, x);
        var data = new TensorDataset("xfeat-self", new Dictionary<string, Tensor> { ["input"] = x }, outputs.ToDictionary(o => o, o => dense[o]));
        var spec = new MultiTaskSpec(outputs.Select(o => new TaskSpec(o, o, new TaskTarget(TaskTargetKind.Reconstruction), LossKind.MeanSquaredError, 1, TaskMetric.Mse)).ToArray(), "xfeat");
        var bytes = model.ToBytes();
        var (pruned, report) = await MultiTaskPruner.Default.PruneAsync(model, new MultiTaskPruneOptions
        {
            Tasks = spec, Train = data, Criterion = MultiTaskCriterion.Taylor, Ratio = 0.25, PruneEvery = 0, PruneUnits = 100_000, Steps = 0, BatchSize = 1,
            Scoring = new GradientScoringOptions { Batches = 1, BatchSize = 1 }, IntraOpThreads = 1,
        });
        Assert.That(model.ToBytes(), Is.EqualTo(bytes));
        Assert.That(report.ParametersAfter, Is.LessThan(report.ParametersBefore));
        Assert.That(report.Rounds, Has.Count.EqualTo(1));
        Assert.That(report.Widths.Where(w => w.Pool != "shared").Select(w => w.Pool).Distinct().Count(), Is.GreaterThan(0));
        foreach (var pool in report.Widths.GroupBy(w => w.Pool))
        {
            double kept = (double)pool.Sum(w => w.Kept) / pool.Sum(w => w.Original);
            Assert.That(kept, Is.EqualTo(0.75).Within(0.1), $"pool {pool.Key} loses its share");
        }
        var after = Run(pruned, x);
        foreach (var o in outputs) Assert.That(after[o].Dims.ToArray(), Is.EqualTo(dense[o].Dims.ToArray()), o);
        var path = Path.Combine(TestPaths.TempDir(), "xfeat-pruned.onnx");
        pruned.Save(path);
        var py = Processes.RunPython("check_model.py", path);
        Assert.That(py.ExitCode, Is.EqualTo(0), py.ToString());
    }

    private sealed class Collect(List<MultiTaskPruneProgress> into) : IProgress<MultiTaskPruneProgress>
    {
        public void Report(MultiTaskPruneProgress value) { lock (into) into.Add(value); }
    }
}
