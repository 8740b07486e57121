using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;

namespace OnnxPrune.Tests.Pruning;

/// <summary>A ViT-style encoder built in code loses whole heads and MLP units correctly.</summary>
public class TransformerPruningTests
{
    [Test]
    public void HeadsAndMlpHiddenAreGroups()
    {
        var model = ModelFactory.Vit(1);
        var analysis = DependencyAnalyzer.Analyze(model);
        var heads = analysis.Groups.Where(g => g.Kind == GroupKind.AttentionHeads).ToList();
        var mlp = analysis.Groups.Where(g => g.Kind == GroupKind.MlpHidden && g.Size == 32).ToList();
        Assert.That(heads, Has.Count.EqualTo(2), string.Join("\n", analysis.Groups));
        Assert.That(mlp, Has.Count.EqualTo(2), string.Join("\n", analysis.Groups));
        foreach (var g in heads)
        {
            Assert.That(g.IsBlocked, Is.False, string.Join("; ", g.BlockedReasons));
            Assert.That(g.Size, Is.EqualTo(4));
            var slices = g.ConstantSlices.ToList();
            // Q, K, V weights (columns) and biases, in blocks of the head dim; the output projection's rows.
            Assert.That(slices.Count(s => s.Value!.Constant!.Shape.Count == 2 && s.Axis == 1 && s.Map == new BlockMap(4)), Is.EqualTo(3));
            Assert.That(slices.Count(s => s.Value!.Constant!.Shape.Count == 1 && s.Map == new BlockMap(4)), Is.EqualTo(3));
            Assert.That(slices.Count(s => s.Value!.Constant!.Shape.Count == 2 && s.Axis == 0 && s.Map == new BlockMap(4)), Is.EqualTo(1));
            var shapes = g.Items.OfType<ShapeElementItem>().ToList();
            Assert.That(shapes.Count(s => s.Factor == 1 && s.Constant.Constant!.Data.ToInt64Array()[s.Index] == 4), Is.EqualTo(3), "head count in the Q/K/V reshapes");
            Assert.That(shapes.Count(s => s.Factor == 4 && s.Constant.Constant!.Data.ToInt64Array()[s.Index] == 16), Is.EqualTo(1), "heads·dim in the merge reshape");
        }
        foreach (var g in mlp)
        {
            Assert.That(g.IsBlocked, Is.False, string.Join("; ", g.BlockedReasons));
            Assert.That(g.Size, Is.EqualTo(32));
        }
        // The residual stream goes through LayerNormalization and the graph input/output: blocked, with reasons.
        var stream = analysis.Groups.Where(g => g.Kind == GroupKind.ResidualStream).ToList();
        Assert.That(stream, Has.Count.EqualTo(1));
        Assert.That(stream[0].Size, Is.EqualTo(16));
        Assert.That(stream.All(g => g.IsBlocked), Is.True);
        Assert.That(stream.SelectMany(g => g.BlockedReasons).Any(r => r.Contains("LayerNormalization")), Is.True);
    }

    [Test]
    public void RemovingHeadsRewritesShapesAndMatchesTheOracle()
    {
        var model = ModelFactory.Vit(2);
        var analysis = DependencyAnalyzer.Analyze(model);
        var heads = analysis.Groups.Where(g => g.Kind == GroupKind.AttentionHeads).ToList();
        var masks = new List<KeepMask> { new(heads[0], [1, 3]), new(heads[1], [0]) };
        var wq = heads[0].ConstantSlices.First(s => s.Axis == 1).Value!;
        var shapeItems = heads[0].Items.OfType<ShapeElementItem>().Select(i => (i.Constant, i.Index)).ToList();
        var inputs = Oracle.RandomInputs(model, new Random(3), new Dictionary<string, long> { ["N"] = 2 });
        var reference = MaskedReference.Build(model, masks).ToBytes();
        PruningSurgery.Apply(model, masks);
        Assert.That(wq.Constant!.Shape, Is.EqualTo(new long[] { 16, 8 }));
        var rewritten = shapeItems.Select(s => s.Constant.Constant!.Data.ToInt64Array()[s.Index]).Order().ToArray();
        Assert.That(rewritten, Is.EqualTo(new long[] { 2, 2, 2, 8 }), "head count 4 → 2, heads·dim 16 → 8");
        var pruned = model.ToBytes();
        OnnxChecker.Check(pruned);
        var e = Oracle.Run(reference, inputs).Single().Value.ToFloatArray();
        var a = Oracle.Run(pruned, inputs).Single().Value.ToFloatArray();
        double scale = e.Max(Math.Abs), diff = e.Zip(a).Max(p => Math.Abs(p.First - p.Second));
        Assert.That(diff / scale, Is.LessThanOrEqualTo(Oracle.Tolerance));
        // Removing heads must change the function (the oracle is not vacuous).
        var original = Oracle.Run(ModelFactory.Vit(2).ToBytes(), inputs).Single().Value.ToFloatArray();
        Assert.That(original.Zip(a).Max(p => Math.Abs(p.First - p.Second)), Is.GreaterThan(1e-3));
    }

    [TestCase(0.5)]
    [TestCase(0.25)]
    public void RandomMasksMatchTheOracle(double keep)
    {
        var outcome = Oracle.Check(ModelFactory.Vit(5), new Random(6), keep, new Dictionary<string, long> { ["N"] = 2 });
        Assert.That(outcome.Prunable, Is.EqualTo(4));
        Assert.That(outcome.MaxRelativeDiff, Is.LessThanOrEqualTo(Oracle.Tolerance));
    }

    // Rewires every head-splitting Reshape of the given blocks to one shared target constant (some exporters share them).
    private static Value ShareHeadShape(OnnxModel model, Func<int, bool> which)
    {
        var splits = model.Graph.Nodes.Where(n => n.OpType == "Reshape" && n.Input(1)!.Constant is { } c && c.ElementCount == 4).ToList();
        var shared = splits[0].Input(1)!;
        for (int i = 0; i < splits.Count; i++)
            if (which(i / 3)) model.Graph.SetInput(splits[i], 1, shared);
        model.Graph.EliminateDeadCode();
        return shared;
    }

    [Test]
    public void AShapeConstantSharedByQKVOfOneBlockIsRewrittenOnce()
    {
        var model = ModelFactory.Vit(7, chains: false);
        var shared = ShareHeadShape(model, block => block == 0);
        var a = DependencyAnalyzer.Analyze(model);
        var heads = a.Groups.Where(g => g.Kind == GroupKind.AttentionHeads).ToList();
        Assert.That(heads.All(g => !g.IsBlocked), Is.True, string.Join("\n", heads));
        Assert.That(heads[0].Items.OfType<ShapeElementItem>().Count(i => i.Constant == shared), Is.EqualTo(1));
        var outcome = Oracle.Check(model, new Random(8), 0.5, new Dictionary<string, long> { ["N"] = 2 });
        Assert.That(shared.Constant!.Data.ToInt64Array()[2], Is.EqualTo(2), "4 heads → 2, written once");
        Assert.That(outcome.MaxRelativeDiff, Is.LessThanOrEqualTo(Oracle.Tolerance));
    }

    [Test]
    public void AShapeConstantSharedAcrossBlocksBlocksBothHeadGroups()
    {
        var model = ModelFactory.Vit(9, chains: false);
        var shared = ShareHeadShape(model, _ => true);
        var heads = DependencyAnalyzer.Analyze(model).Groups.Where(g => g.Kind == GroupKind.AttentionHeads).ToList();
        Assert.That(heads, Has.Count.EqualTo(2));
        Assert.That(heads.All(g => g.BlockedReasons.Any(r => r.Contains(shared.Name))), Is.True, string.Join("\n", heads));
    }
}
