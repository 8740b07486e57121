using System.Text.Json;
using OnnxPrune.Analysis;
using OnnxPrune.Cli.Commands;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;

namespace OnnxPrune.Tests.Pruning;

public class PruneCommandTests
{
    [Test]
    public void BudgetOptionsAreExclusive()
    {
        Assert.That(PruningBudget.Select(0.5, false, null, null, null), Is.EqualTo(new UniformRatioBudget(0.5)));
        Assert.That(PruningBudget.Select(0.3, true, null, null, null), Is.EqualTo(new GlobalRatioBudget(0.3)));
        Assert.That(PruningBudget.Select(null, false, null, 1000, null), Is.EqualTo(new TargetBudget(CostMetric.Macs, 1000)));
        Assert.That(PruningBudget.Select(null, false, null, null, 77), Is.EqualTo(new TargetBudget(CostMetric.WeightBytes, 77)));
        Assert.Throws<ArgumentException>(() => PruningBudget.Select(0.5, false, 10, null, null));
        Assert.Throws<ArgumentException>(() => PruningBudget.Select(null, false, null, null, null));
        Assert.Throws<ArgumentException>(() => PruningBudget.Select(null, true, 10, null, null));
        Assert.Throws<ArgumentOutOfRangeException>(() => PruningBudget.Select(1.0, false, null, null, null));
        Assert.Throws<ArgumentException>(() => PruningBudget.Select(0.5, ranking: UnitRanking.ScorePerCost), "per-cost ranking needs a target");
        Assert.That(PruningBudget.Select(null, targetParameters: 10, ranking: UnitRanking.ScorePerCost), Is.EqualTo(new TargetBudget(CostMetric.Parameters, 10)));
    }

    [Test]
    public void DimsParse()
    {
        Assert.That(DimBindings.Parse(["H=640", "width=320"]), Is.EquivalentTo(new Dictionary<string, long> { ["H"] = 640, ["width"] = 320 }));
        Assert.Throws<ArgumentException>(() => DimBindings.Parse(["H640"]));
        Assert.Throws<ArgumentException>(() => DimBindings.Parse(["H=-1"]));
        Assert.Throws<ArgumentException>(() => DimBindings.Parse(["=3"]));
        // One grammar for prune, run and bench: INPUT:AXIS keys too, and only positive values.
        Assert.That(DimBindings.Parse(["image:2=224", "batch=4"]), Is.EquivalentTo(new Dictionary<string, long> { ["image:2"] = 224, ["batch"] = 4 }));
        Assert.Throws<ArgumentException>(() => DimBindings.Parse(["H=0"]));
        Assert.That(OnnxPrune.Runtime.RandomInputs.ParseDims(["image:2=224"]), Is.EquivalentTo(DimBindings.Parse(["image:2=224"])));
    }

    [Test]
    public void ReportJsonHasTheDocumentedKeys()
    {
        var report = new PruneReport
        {
            Criterion = "l2",
            Budget = "ratio 0.5 per group",
            Groups = [new PrunedGroupReport(3, GroupKind.Channels, "conv1", 8, 16, GroupStatus.Pruned, null),
                      new PrunedGroupReport(4, GroupKind.Features, "fc", 10, 10, GroupStatus.Blocked, "graph output")],
            Before = new ModelCost(100, 400, 1000),
            After = new ModelCost(50, 200, 400),
            TimingsMs = new Dictionary<string, double> { ["analyze"] = 1.5 },
        };
        var path = Path.Combine(TestPaths.TempDir(), "r.json");
        PruneCommand.WriteReport(path, "in.onnx", "out.onnx", report);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        Assert.That(root.GetProperty("input").GetString(), Is.EqualTo("in.onnx"));
        Assert.That(root.GetProperty("criterion").GetString(), Is.EqualTo("l2"));
        Assert.That(root.GetProperty("before").GetProperty("parameters").GetInt64(), Is.EqualTo(100));
        Assert.That(root.GetProperty("after").GetProperty("macs").GetInt64(), Is.EqualTo(400));
        Assert.That(root.GetProperty("parameterRatio").GetDouble(), Is.EqualTo(0.5));
        var g = root.GetProperty("groups")[1];
        Assert.That((g.GetProperty("id").GetInt32(), g.GetProperty("kind").GetString(), g.GetProperty("status").GetString(), g.GetProperty("reason").GetString()),
            Is.EqualTo((4, "features", "blocked", "graph output")));
        Assert.That(root.GetProperty("timingsMs").GetProperty("analyze").GetDouble(), Is.EqualTo(1.5));
    }
}

/// <summary>The prune verb end to end on a real model, through the same root command and exit-code mapping as the tool.</summary>
public class PruneEndToEndTests
{
    private static int Run(params string[] args)
    {
        var root = new System.CommandLine.RootCommand { PruneCommand.Create() };
        return OnnxPrune.Cli.ExitCodes.Invoke(root, args);
    }

    [Test]
    public void ResNet20HalfChannelsL2KeepsAtMost35PercentOfParametersAndMatchesTheMaskedReference()
    {
        var dir = TestPaths.TempDir();
        string output = Path.Combine(dir, "out.onnx"), report = Path.Combine(dir, "report.json");
        int code = Run("prune", TestPaths.SharedModel("resnet20_cifar10_sclbl.onnx"), output, "--criterion", "l2", "--ratio", "0.5", "--verify", "--report", report);
        Assert.That(code, Is.Zero);
        using var doc = JsonDocument.Parse(File.ReadAllText(report));
        var r = doc.RootElement;
        long before = r.GetProperty("before").GetProperty("parameters").GetInt64();
        long after = r.GetProperty("after").GetProperty("parameters").GetInt64();
        Assert.That(before, Is.EqualTo(271690), "the issue's reference count");
        Assert.That(after, Is.LessThanOrEqualTo(0.35 * before));
        Assert.That(r.GetProperty("verification").GetProperty("maxRelativeDifference").GetDouble(), Is.LessThanOrEqualTo(1e-5));
        // The saved file is the pruned model, and its own count agrees with the report.
        Assert.That(ModelSummary.Of(OnnxPrune.Graph.OnnxModel.Load(output)).Parameters, Is.EqualTo(after));
        // Every prunable group lost half its units (round(n/2) kept).
        foreach (var g in r.GetProperty("groups").EnumerateArray().Where(g => g.GetProperty("status").GetString() == "pruned"))
            Assert.That(g.GetProperty("kept").GetInt64(), Is.EqualTo((long)Math.Round(g.GetProperty("total").GetInt64() * 0.5, MidpointRounding.AwayFromZero)));
    }

    [Test]
    public async Task TargetMacsOnResNet20IsMetAndPredictedExactly()
    {
        var model = OnnxPrune.Graph.OnnxModel.Load(TestPaths.SharedModel("resnet20_cifar10_sclbl.onnx"));
        long target = 20_000_000; // about half of 40.8 M
        var report = await Pruner.Default.PruneAsync(model, new PruneOptions
        {
            Criterion = new OnnxPrune.Pruning.Importance.MagnitudeCriterion(1),
            Budget = new TargetBudget(CostMetric.Macs, target),
            Planner = new PlannerOptions { RoundTo = 2 },
        });
        Assert.That(report.After.Macs, Is.LessThanOrEqualTo(target));
        Assert.That(report.After.Macs, Is.GreaterThan(target * 0.9), "no needless over-pruning");
        Assert.That(report.Estimated, Is.EqualTo(report.After), "convs with constant weights: prediction is exact");
        Assert.That(report.Groups.Where(g => g.Status == GroupStatus.Pruned).Select(g => g.Kept % 2), Is.All.Zero);
    }

    [TestCaseSource(typeof(TestPaths), nameof(TestPaths.SharedModelNames))]
    public async Task ThePlannersPredictionEqualsTheCountOfTheRealPrunedModel(string file)
    {
        var model = OnnxPrune.Graph.OnnxModel.Load(TestPaths.SharedModel(file));
        var dims = new Dictionary<string, long>();
        foreach (var input in model.Graph.DataInputs)
            for (int i = 1; i < (input.Shape?.Count ?? 0); i++)
                if (input.Shape![i].Param is { } p) dims[p] = 64;
        var report = await Pruner.Default.PruneAsync(model, new PruneOptions
        {
            Criterion = new OnnxPrune.Pruning.Importance.MagnitudeCriterion(2),
            Budget = new UniformRatioBudget(0.5),
            Cost = new CostOptions { Dims = dims },
        });
        Assert.That(report.MacsComplete, Is.True);
        Assert.That(report.After.Parameters, Is.LessThan(report.Before.Parameters));
        Assert.That(report.Estimated, Is.EqualTo(report.After), "CNNs with constant weights: parameters, bytes and MACs predicted exactly");
    }

    [Test]
    public void UnreachableTargetExitsWithThePruningConstraintCode()
    {
        var dir = TestPaths.TempDir();
        int code = Run("prune", TestPaths.SharedModel("resnet20_cifar10_sclbl.onnx"), Path.Combine(dir, "out.onnx"), "--target-params", "100");
        Assert.That(code, Is.EqualTo(OnnxPrune.Cli.ExitCodes.PruningConstraint));
        Assert.That(File.Exists(Path.Combine(dir, "out.onnx")), Is.False, "nothing is written");
    }
}
