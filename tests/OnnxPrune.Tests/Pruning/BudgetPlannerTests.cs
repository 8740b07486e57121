using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Pruning.Importance;
using OnnxPrune.Tensors;
using static OnnxPrune.Tests.Pruning.TestModels;

namespace OnnxPrune.Tests.Pruning;

public class BudgetPlannerTests
{
    /// <summary>Two independent 1×1 convs on 1×1 inputs: A has 4 units of 4 weights (4 MACs each), B 4 units of 2.</summary>
    private static (OnnxModel Model, PruningGroup A, PruningGroup B) TwoLayers(long unitsA = 4, long unitsB = 4)
    {
        var b = new GraphBuilder();
        var xa = b.Input("xa", ElementType.Float, 1, 4, 1, 1);
        var xb = b.Input("xb", ElementType.Float, 1, 2, 1, 1);
        var wa = b.Initializer("wa", Enumerable.Repeat(1f, (int)(unitsA * 4)).ToArray(), unitsA, 4, 1, 1);
        var wb = b.Initializer("wb", Enumerable.Repeat(1f, (int)(unitsB * 2)).ToArray(), unitsB, 2, 1, 1);
        var ya = b.Conv(xa, wa);
        ya.Producer!.Name = "convA";
        var yb = b.Conv(xb, wb);
        yb.Producer!.Name = "convB";
        b.Output(ya, yb);
        var m = b.Build();
        return (m, SingleSliceGroup(0, wa, 0, unitsA), SingleSliceGroup(1, wb, 0, unitsB));
    }

    private static GroupScores Scores(params (PruningGroup G, double[] S)[] given)
    {
        var s = new GroupScores("test");
        foreach (var (g, v) in given) s.Set(g, v);
        return s;
    }

    private static long[] Kept(PruningPlan plan, PruningGroup g) => plan.Masks.Single(m => m.Group.Id == g.Id).Kept.ToArray();

    [Test]
    public void UniformRatioKeepsRoundedCountsOfTheBestUnits()
    {
        var (_, a, b) = TwoLayers(16, 10);
        var scores = Scores((a, Enumerable.Range(0, 16).Select(i => (double)((i * 7) % 16)).ToArray()),
                            (b, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]));
        var half = BudgetPlanner.Plan([a, b], scores, new UniformRatioBudget(0.5));
        Assert.That(Kept(half, b), Is.EqualTo(new long[] { 0, 1, 2, 3, 4 }));
        Assert.That(Kept(half, a), Is.EqualTo(Enumerable.Range(0, 16).Where(i => (i * 7) % 16 >= 8).Select(i => (long)i)));
        var quarter = BudgetPlanner.Plan([a, b], scores, new UniformRatioBudget(0.25));
        Assert.That(Kept(quarter, b).Length, Is.EqualTo(8), "round(10·0.75) = round(7.5) = 8");
        Assert.That(quarter.Decisions.Select(d => d.Status), Is.All.EqualTo(GroupStatus.Pruned));
    }

    [Test]
    public void RoundToAndMinKeep()
    {
        var (_, a, b) = TwoLayers(16, 10);
        var scores = Scores((a, Enumerable.Range(0, 16).Select(i => (double)i).ToArray()), (b, Enumerable.Range(0, 10).Select(i => (double)i).ToArray()));
        var r4 = BudgetPlanner.Plan([a, b], scores, new UniformRatioBudget(0.5), new PlannerOptions { RoundTo = 4 });
        Assert.That(r4.Decisions.Select(d => d.Kept), Is.EqualTo(new long[] { 8, 4 }), "16→8; 10→5→nearest multiple of 4");
        var never0 = BudgetPlanner.Plan([a, b], scores, new UniformRatioBudget(0.95), new PlannerOptions { RoundTo = 4 });
        Assert.That(never0.Decisions.Select(d => d.Kept), Is.EqualTo(new long[] { 4, 4 }));
        var min = BudgetPlanner.Plan([a, b with { MinKeep = 7 }], scores, new UniformRatioBudget(0.9), new PlannerOptions { MinKeep = 3 });
        Assert.That(min.Decisions.Select(d => d.Kept), Is.EqualTo(new long[] { 3, 7 }));
        Assert.That(Kept(min, a), Is.EqualTo(new long[] { 13, 14, 15 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => BudgetPlanner.Plan([a], scores, new UniformRatioBudget(0.5), new PlannerOptions { RoundTo = 0 }));
    }

    [Test]
    public void ProtectedBlockedAndUnscoredGroupsStayWhole()
    {
        var (_, a, b) = TwoLayers();
        var blocked = a with { Id = 2, BlockedReasons = ["Resize reads the channels"] };
        var scores = Scores((a, [1, 2, 3, 4]), (b, [1, 2, 3, 4]));
        var plan = BudgetPlanner.Plan([a, b, blocked], scores, new UniformRatioBudget(0.5), new PlannerOptions { ProtectedNodes = ["convB"] });
        Assert.That(plan.Decisions.Select(d => d.Status), Is.EqualTo(new[] { GroupStatus.Pruned, GroupStatus.Protected, GroupStatus.Blocked }));
        Assert.That(plan.Masks.Select(m => m.Group.Id), Is.EqualTo(new[] { 0, 1 }), "no mask for a blocked group");
        Assert.That(Kept(plan, b), Has.Length.EqualTo(4));
        var byId = BudgetPlanner.Plan([a, b], scores, new UniformRatioBudget(0.5), new PlannerOptions { ProtectedGroups = [0] });
        Assert.That(byId.Decisions.Select(d => d.Kept), Is.EqualTo(new long[] { 4, 2 }));
        var byWeightName = BudgetPlanner.Plan([a, b], scores, new UniformRatioBudget(0.5), new PlannerOptions { ProtectedNodes = ["wa"] });
        Assert.That(byWeightName.Decisions[0].Status, Is.EqualTo(GroupStatus.Protected));
        Assert.Throws<ArgumentException>(() => BudgetPlanner.Plan([a, b], scores, new UniformRatioBudget(0.5), new PlannerOptions { ProtectedNodes = ["convC"] }));
        var unscored = BudgetPlanner.Plan([a, b], Scores((a, [1, 2, 3, 4])), new UniformRatioBudget(0.5));
        Assert.That(unscored.Decisions[1].Status, Is.EqualTo(GroupStatus.Unscored));
        Assert.That(unscored.Decisions[1].Kept, Is.EqualTo(4));
    }

    [Test]
    public void GlobalRatioUsesOneThresholdAcrossGroups()
    {
        var (_, a, b) = TwoLayers();
        var scores = Scores((a, [0.1, 0.2, 0.3, 0.4]), (b, [0.15, 1, 2, 3]));
        // 8 units, remove 4: 0.1 (A0), 0.15 (B0), 0.2 (A1), 0.3 (A2)
        var plan = BudgetPlanner.Plan([a, b], scores, new GlobalRatioBudget(0.5));
        Assert.That(Kept(plan, a), Is.EqualTo(new long[] { 3 }));
        Assert.That(Kept(plan, b), Is.EqualTo(new long[] { 1, 2, 3 }));
        Assert.That(plan.RemovedUnits, Is.EqualTo(4));
    }

    private static readonly double[] ScoresA = [1, 2, 3, 4], ScoresB = [1.5, 2.5, 3.5, 4.5];

    // Ranking A0 B0 A1 B1 A2 B2 …; A units cost 4 params/MACs/16 bytes, B units 2/2/8; total 24 params.
    [TestCase(CostMetric.Parameters, 17L, 2L, 3L, 14L)]  // A0 (−4 → 20), B0 (−2 → 18), A1 (−4 → 14 ≤ 17)
    [TestCase(CostMetric.Macs, 17L, 2L, 3L, 14L)]
    [TestCase(CostMetric.WeightBytes, 72L, 3L, 3L, 72L)] // 96 bytes: A0 (−16 → 80), B0 (−8 → 72 ≤ 72)
    [TestCase(CostMetric.Parameters, 24L, 4L, 4L, 24L)]  // already met: nothing removed
    [TestCase(CostMetric.Parameters, 6L, 1L, 1L, 6L)]    // everything down to min-keep 1
    public void TargetIsMetWithTheSmallestRemovalInRankingOrder(CostMetric metric, long target, long keptA, long keptB, long expectedValue)
    {
        var (m, a, b) = TwoLayers();
        var cost = CostModel.Of(m);
        Assert.That(cost.Total, Is.EqualTo(new ModelCost(24, 96, 24)));
        var plan = BudgetPlanner.Plan([a, b], Scores((a, ScoresA), (b, ScoresB)), new TargetBudget(metric, target), cost: cost);
        Assert.That(plan.Decisions.Select(d => d.Kept), Is.EqualTo(new[] { keptA, keptB }));
        Assert.That(plan.Estimated!.Value.Get(metric), Is.EqualTo(expectedValue));
        Assert.That(plan.Estimated!.Value.Get(metric), Is.LessThanOrEqualTo(target));
    }

    [Test]
    public void TargetWithRoundToRemovesWholeMultiples()
    {
        var (m, a, b) = TwoLayers();
        var plan = BudgetPlanner.Plan([a, b], Scores((a, ScoresA), (b, ScoresB)), new TargetBudget(CostMetric.Parameters, 17),
            new PlannerOptions { RoundTo = 2 }, CostModel.Of(m));
        // prefix 3 removes A0, A1 (kept 2) and B0 (kept 3 → rounded up to 4): 8 + 8 = 16
        Assert.That(plan.Decisions.Select(d => d.Kept), Is.EqualTo(new long[] { 2, 4 }));
        Assert.That(plan.Estimated!.Value.Parameters, Is.EqualTo(16));
    }

    [Test]
    public void ScorePerCostRankingSparesCheapUnits()
    {
        var (m, a, b) = TwoLayers();
        // A units cost 4 params, B units 2. Scores: A [2,2,2,2] → 0.5 per param; B [1.5,…] → 0.75 per param.
        var scores = Scores((a, [2, 2, 2, 2]), (b, [1.5, 1.5, 1.5, 1.5]));
        var cost = CostModel.Of(m);
        var byScore = BudgetPlanner.Plan([a, b], scores, new TargetBudget(CostMetric.Parameters, 20), cost: cost);
        Assert.That(byScore.Decisions.Select(d => d.Kept), Is.EqualTo(new long[] { 4, 2 }), "B's lower scores go first: two B units (−4)");
        var perCost = BudgetPlanner.Plan([a, b], scores, new TargetBudget(CostMetric.Parameters, 20),
            new PlannerOptions { Ranking = UnitRanking.ScorePerCost }, cost);
        Assert.That(perCost.Decisions.Select(d => d.Kept), Is.EqualTo(new long[] { 3, 4 }), "A is cheaper per parameter saved: one A unit (−4)");
    }

    [Test]
    public void UnreachableTargetSaysTheBestReachableValue()
    {
        var (m, a, b) = TwoLayers();
        var cost = CostModel.Of(m);
        var ex = Assert.Throws<PruningConstraintException>(() =>
            BudgetPlanner.Plan([a, b], Scores((a, ScoresA), (b, ScoresB)), new TargetBudget(CostMetric.Parameters, 5), cost: cost));
        Assert.That(ex!.Message, Does.Contain("is 6"), "one unit of each group left: 4 + 2");
        Assert.Throws<PruningConstraintException>(() =>
            BudgetPlanner.Plan([a, b], Scores((a, ScoresA), (b, ScoresB)), new TargetBudget(CostMetric.Parameters, 12),
                new PlannerOptions { ProtectedGroups = [0] }, cost));
        Assert.Throws<ArgumentException>(() =>
            BudgetPlanner.Plan([a, b], Scores((a, ScoresA), (b, ScoresB)), new TargetBudget(CostMetric.Parameters, 12)));
    }

    [Test]
    public void TiesAreBrokenBySeedDeterministically()
    {
        var (_, a, _) = TwoLayers(64, 4);
        var flat = Scores((a, new double[64]));
        long[] Run(long seed) => Kept(BudgetPlanner.Plan([a], flat, new UniformRatioBudget(0.5), new PlannerOptions { Seed = seed }), a);
        Assert.That(Run(1), Is.EqualTo(Run(1)));
        Assert.That(Run(1), Is.Not.EqualTo(Run(2)));
        Assert.That(Run(1), Is.Not.EqualTo(Enumerable.Range(0, 32).Select(i => (long)i)), "ties do not simply keep the first units");
    }
}
