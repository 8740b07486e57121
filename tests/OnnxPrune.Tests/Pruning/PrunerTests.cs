using OnnxPrune.Data;
using OnnxPrune.Analysis;
using OnnxPrune.Analysis.Rules;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Pruning.Importance;
using OnnxPrune.Tensors;
using static OnnxPrune.Tests.Pruning.TestModels;

namespace OnnxPrune.Tests.Pruning;

public class PrunerTests
{
    [Test]
    public async Task PipelineScoresPlansCutsAndReportsExactCounts()
    {
        // conv1 filters with L2 norms (incl. b1 and W2 columns) ordered u2 > u0 > u1; conv2 rows: row 1 larger.
        var t = BuildTwoConvs(w1: [1, -2, 0.5f, 0.5f, -3, 4], b1: [0.5f, -1, 0], w2: [1, 0, 2, -1, 1, 0], cin: 2, c1: 3, c2: 2);
        t.Conv1.Root.Name = "conv1";
        var pruner = new Pruner(Groups(t.Conv1, t.Conv2), SliceOnlySurgery.Apply);
        var events = new List<PruneProgress>();
        var report = await pruner.PruneAsync(t.Model, new PruneOptions { Criterion = new MagnitudeCriterion(2), Budget = new UniformRatioBudget(0.5) },
            new Recorder(events));

        // round(3·0.5) = 2 channels of conv1 (units 0 and 2), round(2·0.5) = 1 of conv2.
        Assert.That(report.Groups.Select(g => (g.Kept, g.Total, g.Status)), Is.EqualTo(new[] { (2L, 3L, GroupStatus.Pruned), (1L, 2L, GroupStatus.Pruned) }));
        Assert.That(t.W1.Constant!.Data.ToFloatArray(), Is.EqualTo(new[] { 1f, -2, -3, 4 }));
        Assert.That(t.B1.Constant!.Data.ToFloatArray(), Is.EqualTo(new[] { 0.5f, 0 }));
        // W2 rows scored before surgery: ‖[1, 0, 2]‖ > ‖[−1, 1, 0]‖, so row 0 stays, with columns 0 and 2.
        Assert.That(t.W2.Constant!.Data.ToFloatArray(), Is.EqualTo(new[] { 1f, 2 }));
        // before: 6 + 3 + 6 = 15 params; MACs 3·16·2 + 2·16·3 = 192. After: 4 + 2 + 2 = 8; MACs 2·16·2 + 1·16·2 = 96.
        Assert.That(report.Before, Is.EqualTo(new ModelCost(15, 60, 192)));
        Assert.That(report.After, Is.EqualTo(new ModelCost(8, 32, 96)));
        Assert.That(report.Estimated, Is.EqualTo(report.After));
        Assert.That(report.ParameterRatio, Is.EqualTo(8.0 / 15));
        Assert.That(report.TimingsMs.Keys, Is.SupersetOf(new[] { "analyze", "score", "plan", "surgery" }));
        Assert.That(events.Select(e => e.Stage).Distinct(), Is.EqualTo(new[] { PruneStage.Analyze, PruneStage.Score, PruneStage.Plan, PruneStage.Surgery, PruneStage.Count }));
    }

    [Test]
    public async Task PruneAsyncReturnsBeforeAnyWorkAndRunsItOffTheCallersThread()
    {
        var t = BuildTwoConvs([1, 2, 3, 4, 5, 6], [1, 2, 3], [1, 2, 3, 4, 5, 6], cin: 2, c1: 3, c2: 2);
        using var release = new ManualResetEventSlim();
        int caller = Environment.CurrentManagedThreadId, analyzer = -1;
        var pruner = new Pruner((m, ct) =>
        {
            analyzer = Environment.CurrentManagedThreadId;
            release.Wait(TimeSpan.FromSeconds(20)); // an analysis that runs on the caller's thread would block the call this long
            return Groups(t.Conv1)(m, ct);
        }, SliceOnlySurgery.Apply);
        var task = pruner.PruneAsync(t.Model, new PruneOptions { Criterion = new MagnitudeCriterion(1), Budget = new UniformRatioBudget(0.5) });
        Assert.That(task.IsCompleted, Is.False, "PruneAsync returned only after its synchronous analysis");
        release.Set();
        var report = await task;
        Assert.That(analyzer, Is.Not.EqualTo(caller));
        Assert.That(report.Groups.Single().Kept, Is.EqualTo(2));
    }

    [Test]
    public void NaNWeightsFailWithATypedErrorNamingTheTensorAndLeaveTheModelAsItWas()
    {
        foreach (var bad in new[] { float.NaN, float.PositiveInfinity })
        {
            var t = BuildTwoConvs([1, 2, 3, bad, 5, 6], [1, 2, 3], [1, 2, 3, 4, 5, 6], cin: 2, c1: 3, c2: 2);
            var before = t.Model.ToBytes();
            var ex = Assert.ThrowsAsync<NonFiniteWeightsException>(async () => await new Pruner(Groups(t.Conv1, t.Conv2), SliceOnlySurgery.Apply)
                .PruneAsync(t.Model, new PruneOptions { Criterion = new MagnitudeCriterion(2), Budget = new UniformRatioBudget(0.5) }))!;
            Assert.That(ex.Tensor, Is.EqualTo("w1"));
            Assert.That(ex.Element, Is.EqualTo(3));
            Assert.That(ex.Message, Does.Contain("'w1'").And.Contain(float.IsNaN(bad) ? "NaN" : "infinity"));
            Assert.That(t.Model.ToBytes(), Is.EqualTo(before));
        }
    }

    [Test]
    public void CancellationStopsBeforeSurgery()
    {
        var t = BuildTwoConvs([1, 2, 3, 4, 5, 6], [1, 2, 3], [1, 2, 3, 4, 5, 6], cin: 2, c1: 3, c2: 2);
        bool cut = false;
        var pruner = new Pruner(Groups(t.Conv1), (_, _, _) => cut = true);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.CatchAsync<OperationCanceledException>(async () =>
            await pruner.PruneAsync(t.Model, new PruneOptions { Criterion = new MagnitudeCriterion(1), Budget = new UniformRatioBudget(0.5) }, null, cts.Token));
        Assert.That(cut, Is.False);
    }

    [Test]
    public async Task VerificationPassesForAnHonestCutAndCatchesAWrongOne()
    {
        async Task<VerificationResult> Run(MaskSurgery surgery)
        {
            var t = BuildTwoConvs(w1: [1, -2, 0.5f, 0.5f, -3, 4], b1: [0.5f, -1, 0], w2: [1, 0, 2, -1, 1, 0], cin: 2, c1: 3, c2: 2);
            // Only conv1's channels: conv2's are the graph output's (the analyser blocks such groups).
            var report = await new Pruner(Groups(t.Conv1), surgery).PruneAsync(t.Model, new PruneOptions
            {
                Criterion = new MagnitudeCriterion(2), Budget = new UniformRatioBudget(0.5), Verify = new VerificationOptions { Seed = 3 },
            });
            return report.Verification!;
        }
        var honest = await Run(SliceOnlySurgery.Apply);
        Assert.That(honest.Passed, Is.True);
        Assert.That(honest.MaxRelativeDifference, Is.LessThanOrEqualTo(1e-6));
        var wrong = await Run((m, masks, _) =>
        {
            SliceOnlySurgery.Apply(m, masks);
            var w1 = m.Graph.GetValue("w1").Constant!;
            var data = w1.Data;
            data.AsSpan<float>()[0] += 0.5f; // a kept weight changes: no longer the masked original
            w1.Data = data;
        });
        Assert.That(wrong.Passed, Is.False);
        Assert.That(wrong.MaxRelativeDifference, Is.GreaterThan(1e-2));
    }

    [Test]
    public async Task TheBudgetIsPlannedOnTheCostsOfTheAnalysersOwnRules()
    {
        // conv1 (4 channels) → Relu → conv2. A registry whose Relu rule counts numel(X) MACs: the pruner's cost model must
        // count with it (before, the plan's estimate and after), so a MAC target removes more channels than with the
        // default rules, which do not count Relu.
        (OnnxModel Model, Value Relu) Build()
        {
            var f = new ModelFactory(new Random(3));
            var x = f.B.Input("x", ElementType.Float, 1, 3, 8, 8);
            var r = f.B.Op("Relu", [f.B.Conv(x, f.W("w", 4, 3, 3, 3), pads: [1, 1, 1, 1])]);
            f.B.Output(f.B.Conv(r, f.W("w2", 2, 4, 1, 1)));
            return (f.B.Build(), r);
        }
        var registry = OpRuleRegistry.CreateDefault().Replace(new MacCountingRelu());
        var (custom, relu) = Build();
        var counted = CostModel.Of(custom, new CostOptions { Rules = registry }).Total.Macs;
        var plain = CostModel.Of(custom).Total.Macs;
        Assert.That(counted - plain, Is.EqualTo(4 * 8 * 8), "the custom rule adds the Relu's MACs");
        // conv1 costs 64·27 = 1,728 MACs per channel, conv2 64·2 = 128 and the Relu 64 (custom only): 1,920 or 1,856.
        // Target 5,700 MACs: with the Relu counted, 3 channels cost 5,760 > target, so 2 stay; without it, 3 fit (5,568).
        PruningBudget budget = new TargetBudget(CostMetric.Macs, 5_700);
        var options = new PruneOptions { Criterion = new MagnitudeCriterion(2), Budget = budget };
        var report = await Pruner.With(new DependencyAnalyzer(registry)).PruneAsync(custom, options);
        Assert.That(report.Before.Macs, Is.EqualTo(counted));
        Assert.That(report.Groups.Single(g => g.Status == GroupStatus.Pruned).Kept, Is.EqualTo(2));
        Assert.That(report.After.Macs, Is.LessThanOrEqualTo(5_700));
        Assert.That(report.After.Macs, Is.EqualTo(CostModel.Of(custom, new CostOptions { Rules = registry }).Total.Macs), "after: counted with the same rules");
        Assert.That(report.Estimated, Is.EqualTo(report.After));

        var (defaults, _) = Build();
        var reference = await Pruner.Default.PruneAsync(defaults, options);
        Assert.That(reference.Before.Macs, Is.EqualTo(plain));
        Assert.That(reference.Groups.Single(g => g.Status == GroupStatus.Pruned).Kept, Is.EqualTo(3), "the default rules leave room for one more channel");
        Assert.That(relu.Producer, Is.Not.Null);
    }

    // Relu with the default shapes and coupling that also counts numel(X) MACs.
    private sealed class MacCountingRelu : OpRule
    {
        public override IReadOnlyList<string> OpTypes { get; } = ["Relu"];
        public override void InferShapes(ShapeContext ctx) => ctx.OutputLikeInput();
        public override void Couple(CouplingContext ctx)
        {
            for (int i = 0; i < ctx.Rank(ctx.In(0)!); i++) ctx.Same(ctx.In(0)!, i, ctx.Out(0)!, i);
        }
        public override bool CountsMacs => true;
        public override long? Macs(MacContext ctx) => ctx.Input(0) is { } x ? MacContext.Product(x) : null;
    }

    // An analyser that returns the given groups, with the model's static shapes.
    private static GroupAnalyzer Groups(params PruningGroup[] groups) =>
        (model, _) => new DependencyAnalysis(groups, ShapeInference.Infer(model.Graph, model.GetOpset("")));

    private sealed class Recorder(List<PruneProgress> events) : IProgress<PruneProgress>
    {
        public void Report(PruneProgress value) => events.Add(value);
    }
}

/// <summary>The full pipeline on the analysis stage's transformer fixture: whole heads and MLP units scored and cut.</summary>
public class TransformerPipelineTests
{
    [TestCase("l1")]
    [TestCase("l2")]
    [TestCase("fpgm")]
    [TestCase("random")]
    public async Task EveryCriterionPrunesHeadsAndMlpAndMatchesTheMaskedReference(string criterion)
    {
        var model = ModelFactory.Vit(5, heads: 4, headDim: 4, hidden: 32);
        var report = await Pruner.Default.PruneAsync(model, new PruneOptions
        {
            Criterion = Criteria.Create(criterion, seed: 1),
            Budget = new UniformRatioBudget(0.5),
            Verify = new VerificationOptions { Tolerance = 1e-5 },
        });
        var prunable = report.Groups.Where(g => g.Status != GroupStatus.Blocked).ToArray();
        var heads = prunable.Where(g => g.Kind == GroupKind.AttentionHeads).ToArray();
        var mlp = prunable.Where(g => g.Kind == GroupKind.MlpHidden).ToArray();
        Assert.That(heads, Is.Not.Empty);
        Assert.That(heads.Select(g => (g.Kept, g.Total)), Is.All.EqualTo((2L, 4L)));
        Assert.That(mlp, Is.Not.Empty);
        Assert.That(mlp.Select(g => (g.Kept, g.Total)), Is.All.EqualTo((16L, 32L)));
        Assert.That(report.Verification!.Passed, Is.True, $"max relative difference {report.Verification.MaxRelativeDifference:E2}");
        Assert.That(report.After.Parameters, Is.LessThan(report.Before.Parameters));
        Assert.That(report.Estimated!.Value.Parameters, Is.EqualTo(report.After.Parameters));
    }
}

/// <summary>A data-driven criterion through the whole pipeline on a real model.</summary>
public class ActivationPipelineTests
{
    [Test]
    public async Task ActivationScoresPruneResNet20AndTheCutMatchesTheMaskedReference()
    {
        var model = OnnxPrune.Graph.OnnxModel.Load(TestPaths.SharedModel("resnet20_cifar10_sclbl.onnx"));
        var input = model.Graph.DataInputs.Single();
        var rng = new Random(11);
        var batches = Enumerable.Range(0, 4).Select(_ =>
        {
            var x = OnnxPrune.Tensors.Tensor.Zeros(OnnxPrune.Tensors.ElementType.Float, 1, 3, 32, 32);
            foreach (ref var v in x.AsSpan<float>()) v = (float)(rng.NextDouble() * 2 - 1);
            return (IReadOnlyDictionary<string, OnnxPrune.Tensors.Tensor>)new Dictionary<string, OnnxPrune.Tensors.Tensor> { [input.Name] = x };
        }).ToArray();
        var report = await Pruner.Default.PruneAsync(model, new PruneOptions
        {
            Criterion = new ActivationCriterion(),
            Data = DataProviders.FromBatches(batches),
            Budget = new UniformRatioBudget(0.5),
            Verify = new VerificationOptions(),
        });
        var statuses = report.Groups.Select(g => g.Status).ToArray();
        Assert.That(statuses.Count(s => s == GroupStatus.Pruned), Is.EqualTo(statuses.Count(s => s != GroupStatus.Blocked)), "every prunable group is scored");
        Assert.That(report.Verification!.Passed, Is.True);
        Assert.That(report.ParameterRatio, Is.LessThan(0.35));
    }
}
