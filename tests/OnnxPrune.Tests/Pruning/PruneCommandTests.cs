using System.Text.Json;
using OnnxPrune.Analysis;
using OnnxPrune.Cli.Commands;
using OnnxPrune.Pruning;

namespace OnnxPrune.Tests.Pruning;

public class PruneCommandTests
{
    [Test]
    public void BudgetOptionsAreExclusive()
    {
        Assert.That(PruneCommand.Budget(0.5, false, null, null, null), Is.EqualTo(new UniformRatioBudget(0.5)));
        Assert.That(PruneCommand.Budget(0.3, true, null, null, null), Is.EqualTo(new GlobalRatioBudget(0.3)));
        Assert.That(PruneCommand.Budget(null, false, null, 1000, null), Is.EqualTo(new TargetBudget(CostMetric.Macs, 1000)));
        Assert.That(PruneCommand.Budget(null, false, null, null, 77), Is.EqualTo(new TargetBudget(CostMetric.WeightBytes, 77)));
        Assert.Throws<ArgumentException>(() => PruneCommand.Budget(0.5, false, 10, null, null));
        Assert.Throws<ArgumentException>(() => PruneCommand.Budget(null, false, null, null, null));
        Assert.Throws<ArgumentException>(() => PruneCommand.Budget(null, true, 10, null, null));
        Assert.Throws<ArgumentOutOfRangeException>(() => PruneCommand.Budget(1.0, false, null, null, null));
    }

    [Test]
    public void DimsParse()
    {
        Assert.That(PruneCommand.ParseDims(["H=640", "width=320"]), Is.EquivalentTo(new Dictionary<string, long> { ["H"] = 640, ["width"] = 320 }));
        Assert.Throws<ArgumentException>(() => PruneCommand.ParseDims(["H640"]));
        Assert.Throws<ArgumentException>(() => PruneCommand.ParseDims(["H=-1"]));
        Assert.Throws<ArgumentException>(() => PruneCommand.ParseDims(["=3"]));
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
