using OnnxPrune.Data;
using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Pruning.Importance;
using OnnxPrune.Tensors;
using static OnnxPrune.Tests.Pruning.TestModels;

namespace OnnxPrune.Tests.Pruning;

public class ImportanceTests
{
    // conv1: 3 filters over 2 input channels; conv2: 2 filters over those 3 channels.
    private static readonly float[] W1 = [1, -2, /* u1 */ 0.5f, 0.5f, /* u2 */ -3, 4];
    private static readonly float[] B1 = [0.5f, -1, 0];
    private static readonly float[] W2 = [1, 0, 2, /* row 2 */ -1, 1, 0];

    private static async Task<GroupScores> Score(IImportanceCriterion c, OnnxModel m, params PruningGroup[] groups) =>
        await c.ScoreAsync(ImportanceContext.For(m, groups));

    [Test]
    public async Task L1AggregatesEveryScoredSliceOfTheUnit()
    {
        var t = BuildTwoConvs(W1, B1, W2, cin: 2, c1: 3, c2: 2);
        var s = await Score(new MagnitudeCriterion(1, ScoreNormalization.None), t.Model, t.Conv1);
        // unit u: |W1[u,:]| + |b1[u]| + |W2[:,u]|
        double[] raw = [1 + 2 + 0.5 + 1 + 1, 0.5 + 0.5 + 1 + 0 + 1, 3 + 4 + 0 + 2 + 0];
        Assert.That(s[0], Is.EqualTo(raw).Within(1e-6));
        var normalised = await Score(new MagnitudeCriterion(1), t.Model, t.Conv1);
        Assert.That(normalised[0], Is.EqualTo(MeanNormalised(raw)).Within(1e-9));
    }

    [Test]
    public async Task L2IsTheNormOfTheUnitsWholeGroupSlice()
    {
        var t = BuildTwoConvs(W1, B1, W2, cin: 2, c1: 3, c2: 2);
        var s = await Score(new MagnitudeCriterion(2, ScoreNormalization.None), t.Model, t.Conv1);
        double[] raw = [Math.Sqrt(1 + 4 + 0.25 + 1 + 1), Math.Sqrt(0.25 + 0.25 + 1 + 0 + 1), Math.Sqrt(9 + 16 + 0 + 4 + 0)];
        Assert.That(s[0], Is.EqualTo(raw).Within(1e-6));
        var rms = await Score(new MagnitudeCriterion(2, ScoreNormalization.ElementCount), t.Model, t.Conv1);
        Assert.That(rms[0], Is.EqualTo(raw.Select(r => r / Math.Sqrt(5)).ToArray()).Within(1e-6), "5 coupled elements per unit");
    }

    [TestCase(ElementType.Float16)]
    [TestCase(ElementType.BFloat16)]
    [TestCase(ElementType.Double)]
    public async Task ReducedAndWidePrecisionWeightsScoreLikeFloat(ElementType type)
    {
        var t = BuildTwoConvs(W1, B1, W2, cin: 2, c1: 3, c2: 2, type: type);
        var s = await Score(new MagnitudeCriterion(1, ScoreNormalization.None), t.Model, t.Conv1);
        Assert.That(s[0], Is.EqualTo(new[] { 5.5, 3.0, 9.0 }).Within(1e-9)); // every weight is exact in fp16 and bf16
    }

    [Test]
    public async Task MeanNormalisationMakesGroupsOfDifferentFanInAndScaleComparable()
    {
        // Group A: 4 units, fan-in 2, scale 1. Group B: 4 units with the same relative pattern, fan-in 8, scale 0.01.
        float[] pattern = [1, 2, 3, 4];
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 1, 2, 1, 1);
        var wa = b.Initializer("wa", pattern.SelectMany(p => new[] { p, p }).ToArray(), 4, 2, 1, 1);
        var ya = b.Conv(x, wa);
        var wb = b.Initializer("wb", pattern.SelectMany(p => Enumerable.Repeat(p * 0.01f, 8)).ToArray(), 4, 8, 1, 1);
        var x2 = b.Input("x2", ElementType.Float, 1, 8, 1, 1);
        b.Output(ya, b.Conv(x2, wb));
        var m = b.Build();
        var ga = SingleSliceGroup(0, wa, 0, 4);
        var gb = SingleSliceGroup(1, wb, 0, 4);
        var raw = await Score(new MagnitudeCriterion(1, ScoreNormalization.None), m, ga, gb);
        Assert.That(raw[1][0], Is.LessThan(raw[0][0]), "raw scores are not comparable: B's best unit is below A's worst");
        var s = await Score(new MagnitudeCriterion(1), m, ga, gb);
        Assert.That(s[1], Is.EqualTo(s[0]).Within(1e-6));
        Assert.That(s[0], Is.EqualTo(MeanNormalised(1, 2, 3, 4)).Within(1e-6));
    }

    [Test]
    public async Task BlockMapGathersAFlattenedChannelsColumns()
    {
        // Gemm weight [2 outputs, 3 channels × 2 positions]: channel c owns columns [2c, 2c+2).
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 1, 6);
        var w = b.Initializer("w", [1, 1, 0, 0, 5, 5, /* row 1 */ 1, 1, 0, 1, 0, 0], 2, 6);
        b.Output(b.Gemm(x, w, transB: true));
        var m = b.Build();
        var s = await Score(new MagnitudeCriterion(1, ScoreNormalization.None), m, SingleSliceGroup(0, w, 1, 3, new BlockMap(2)));
        Assert.That(s[0], Is.EqualTo(new[] { 4.0, 1.0, 10.0 }));
    }

    [Test]
    public async Task BlockedGroupsAndGroupsWithoutScoredSlicesAreLeftOut()
    {
        var t = BuildTwoConvs(W1, B1, W2, cin: 2, c1: 3, c2: 2);
        var blocked = t.Conv2 with { BlockedReasons = ["unknown op"] };
        var unscored = t.Conv1 with { Items = t.Conv1.Items.Select(i => i is ConstantSliceItem s ? s with { IsScored = false } : i).ToArray() };
        var s = await Score(new MagnitudeCriterion(2), t.Model, unscored, blocked);
        Assert.That(s.Count, Is.Zero);
        var r = await Score(new RandomCriterion(1), t.Model, blocked);
        Assert.That(r.Count, Is.Zero);
    }

    [Test]
    public async Task BatchNormScaleOrdersByAbsoluteGammaAndOtherGroupsFallBackOrAreExcluded()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 1, 2, 2, 2);
        var w = b.Initializer("w", Enumerable.Range(0, 8).Select(i => 1f).ToArray(), 4, 2, 1, 1);
        var conv = b.Conv(x, w);
        var gamma = b.Initializer("gamma", [0.5f, -2, 0.1f, 1], 4);
        var beta = b.Initializer("beta", new float[4], 4);
        var mean = b.Initializer("mean", new float[4], 4);
        var variance = b.Initializer("var", [1f, 1, 1, 1], 4);
        var bn = b.BatchNorm(conv, gamma, beta, mean, variance);
        var w2 = b.Initializer("w2", [1, 2, 3, 4, 5, 6, 7, 8], 2, 4, 1, 1);
        b.Output(b.Conv(bn, w2));
        var m = b.Build();
        var bnNode = gamma.Consumers[0];
        var g0 = new PruningGroup
        {
            Id = 0, Kind = GroupKind.Channels, Root = w.Consumers[0], Size = 4,
            Items =
            [
                new ConstantSliceItem { Value = w, Axis = 0, IsScored = true },
                new ConstantSliceItem { Value = gamma, Reader = bnNode, Axis = 0, IsScored = true },
                new ConstantSliceItem { Value = mean, Reader = bnNode, Axis = 0 },
            ],
        };
        var g1 = SingleSliceGroup(1, w2, 0, 2);
        var s = await Score(new BatchNormScaleCriterion(), m, g0, g1);
        Assert.That(s[0], Is.EqualTo(MeanNormalised(0.5, 2, 0.1, 1)).Within(1e-7));
        Assert.That(s.TryGet(1, out _), Is.False, "no BN: excluded without a fallback");
        var withFallback = await Score(new BatchNormScaleCriterion(new MagnitudeCriterion(1)), m, g0, g1);
        Assert.That(withFallback[1], Is.EqualTo(MeanNormalised(1 + 2 + 3 + 4, 5 + 6 + 7 + 8)).Within(1e-7));
        Assert.That(withFallback.Criterion, Is.EqualTo("bn+l1"));
    }

    [Test]
    public async Task FpgmRanksDuplicatesOfTheMedianLowestAndOutliersHighest()
    {
        // 5 filters of 2 weights: a, a, a (the geometric median), b and c far from it.
        float[] w = [1, 1, 1, 1, 1, 1, /* b */ 5, 1, /* c */ 1, -4];
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 1, 2, 1, 1);
        var wv = b.Initializer("w", w, 5, 2, 1, 1);
        b.Output(b.Conv(x, wv));
        var m = b.Build();
        var s = await Score(new FpgmCriterion(ScoreNormalization.None), m, SingleSliceGroup(0, wv, 0, 5));
        double ab = 4, ac = 5, bc = Math.Sqrt(16 + 25);
        Assert.That(s[0], Is.EqualTo(new[] { ab + ac, ab + ac, ab + ac, 3 * ab + bc, 3 * ac + bc }).Within(1e-6));
        // FPGM differs from L1 where duplicates have the largest norm:
        float[] w2 = [3, 3, 3, 3, /* small distinct */ 0.1f, 0, 0, 0.1f];
        var b2 = new GraphBuilder();
        var x2 = b2.Input("x", ElementType.Float, 1, 2, 1, 1);
        var wv2 = b2.Initializer("w", w2, 4, 2, 1, 1);
        b2.Output(b2.Conv(x2, wv2));
        var m2 = b2.Build();
        var g = SingleSliceGroup(0, wv2, 0, 4);
        var l1 = await Score(new MagnitudeCriterion(1), m2, g);
        var fpgm = await Score(new FpgmCriterion(), m2, g);
        Assert.That(l1[0][0], Is.GreaterThan(l1[0][2]), "L1 keeps the large duplicates");
        Assert.That(fpgm[0][0], Is.LessThan(fpgm[0][2]), "FPGM prunes a duplicate before the distinct small filters");
    }

    [Test]
    public async Task RandomIsSeededDeterministicAndIndependentOfGroupOrder()
    {
        var t = BuildTwoConvs(W1, B1, W2, cin: 2, c1: 3, c2: 2);
        var a = await Score(new RandomCriterion(42), t.Model, t.Conv1, t.Conv2);
        var again = await Score(new RandomCriterion(42), t.Model, t.Conv2, t.Conv1);
        var other = await Score(new RandomCriterion(43), t.Model, t.Conv1, t.Conv2);
        Assert.That(again[0], Is.EqualTo(a[0]));
        Assert.That(again[1], Is.EqualTo(a[1]));
        Assert.That(other[0], Is.Not.EqualTo(a[0]));
        Assert.That(a[0].Concat(a[1]), Has.All.InRange(0.0, 1.0));
        Assert.That(a[0].Distinct().Count(), Is.EqualTo(3));
    }

    [Test]
    public async Task ExternalScoresByIdAndByGroupKey()
    {
        var t = BuildTwoConvs(W1, B1, W2, cin: 2, c1: 3, c2: 2);
        var byId = await Score(ExternalScores.ByGroupId(new Dictionary<int, double[]> { [1] = [0.2, 0.8] }), t.Model, t.Conv1, t.Conv2);
        Assert.That(byId.TryGet(0, out _), Is.False);
        Assert.That(byId[1], Is.EqualTo(new[] { 0.2, 0.8 }));
        var byName = await Score(ExternalScores.ByGroupKey(new Dictionary<string, double[]> { ["w1:0"] = [3, 2, 1] }, name: "votes"), t.Model, t.Conv1, t.Conv2);
        Assert.That(byName[0], Is.EqualTo(new[] { 3.0, 2, 1 }));
        Assert.That(byName.Criterion, Is.EqualTo("votes"));
        Assert.ThrowsAsync<ArgumentException>(async () =>
            await Score(ExternalScores.ByGroupId(new Dictionary<int, double[]> { [0] = [1, 2] }), t.Model, t.Conv1));
    }

    [Test]
    public async Task ScoresFileRoundTripsByGroupKey()
    {
        var t = BuildTwoConvs(W1, B1, W2, cin: 2, c1: 3, c2: 2);
        t.Conv1.Root.Name = "conv1";
        t.Conv2.Root.Name = "conv2";
        var l1 = await Score(new MagnitudeCriterion(1), t.Model, t.Conv1, t.Conv2);
        var path = Path.Combine(TestPaths.TempDir(), "scores.json");
        ExternalScores.Save(path, l1, [t.Conv1, t.Conv2], ModelFingerprint.Of(t.Model));
        var loaded = await Score(ExternalScores.Load(path), t.Model, t.Conv1, t.Conv2);
        Assert.That(loaded.Criterion, Is.EqualTo("l1"));
        Assert.That(loaded[0], Is.EqualTo(l1[0]));
        Assert.That(loaded[1], Is.EqualTo(l1[1]));
        File.WriteAllText(path, "{\"votes\": 1}");
        Assert.Throws<ScoresFormatException>(() => ExternalScores.Load(path));
    }

    [Test]
    public async Task ActivationCriterionAveragesAbsoluteActivationsOverBatches()
    {
        var t = BuildTwoConvs(W1, B1, W2, cin: 2, c1: 3, c2: 2);
        Tensor Filled(float v) => Tensor.FromArray<float>(Enumerable.Repeat(v, 32).ToArray(), 1, 2, 4, 4);
        var data = DataProviders.FromBatches([new Dictionary<string, Tensor> { ["x"] = Filled(1) }, new Dictionary<string, Tensor> { ["x"] = Filled(2) }]);
        var s = await new ActivationCriterion().ScoreAsync(new ImportanceContext { Model = t.Model, Groups = [t.Conv1, t.Conv2], Data = data });
        // conv1 channel c on a constant input v: v·ΣW1[c,:] + b1[c] → v=1: −0.5, 0, 1; v=2: −1.5, 1, 2. Mean |a|: 1, 0.5, 1.5 (mean 1).
        Assert.That(s[0], Is.EqualTo(new[] { 1.0, 0.5, 1.5 }).Within(1e-6));
        Assert.That(s.TryGet(1, out _), Is.False, "conv2's group observes no activation (only a graph output)");
        Assert.ThrowsAsync<ArgumentException>(async () => await new ActivationCriterion().ScoreAsync(ImportanceContext.For(t.Model, [t.Conv1])));
    }

    [Test]
    public void CriteriaByName()
    {
        Assert.That(Criteria.Names.Select(n => Criteria.Create(n, 1).Name), Is.EqualTo(new[] { "l1", "l2", "bn+l2", "fpgm", "random" }));
        Assert.Throws<ArgumentException>(() => Criteria.Create("taylor"));
    }
}
