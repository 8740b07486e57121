using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Tensors;
using OnnxPrune.Tests.Pruning;

namespace OnnxPrune.Tests.Analysis;

/// <summary>Head counts and head sizes computed at run time from a pruned dim (issue 12): <c>hidden / head_size</c> on the
/// head axis follows by itself, <c>hidden / num_heads</c> on the head-size axis gets its divisor rewritten, anything else
/// blocks with a reason naming the node; every prune matches the masked reference.</summary>
public class HeadArithmeticTests
{
    private const long C = 16, Heads = 4, HeadDim = 4, Hidden = 24, Vocab = 5;

    /// <summary>How the heads Reshape target is spelled.</summary>
    public enum Style
    {
        /// <summary>[B, T, hidden / 4 (Div by the head size), 4]: the head count is computed.</summary>
        HeadCountByDiv,
        /// <summary>[B, T, 4, hidden / 4 (Div by the head count)]: HF's head size = hidden // num_heads.</summary>
        HeadSizeByDiv,
        /// <summary>As <see cref="HeadSizeByDiv"/>, with one divisor constant shared by every layer (deduplicated export).</summary>
        SharedDivisor,
        /// <summary>[B, T, 4, C_in / 4]: timm's <c>C // num_heads</c> with C the block input's width (the residual stream, not the pruned dim).</summary>
        HeadSizeFromInput,
        /// <summary>[B, T, 4, hidden / (2 + 2)]: the divisor is computed, so it cannot be rewritten.</summary>
        ComputedDivisor,
        /// <summary>[B, T, 4, hidden − 12]: a head size that happens to be 4, computed from the pruned dim by Sub.</summary>
        HeadSizeBySub,
        /// <summary>Constant split; the merge target is [B, T, heads · 4] with heads read from the attention output's shape.</summary>
        MergeByMul,
    }

    private static Value Dim(GraphBuilder b, Value t, long axis) =>
        b.Op("Gather", [b.Op("Shape", [t]), b.Initializer("i", Tensor.Scalar(axis))], ("axis", 0L));

    private static Value Vec(GraphBuilder b, Value scalar) => b.Op("Unsqueeze", [scalar, b.Int64s("ax", 0)]);

    private static Value HeadsTarget(GraphBuilder b, Value t, Value blockInput, Style style, Value? shared)
    {
        Value Div(Value dim, Value by) => Vec(b, b.Op("Div", [dim, by]));
        Value Const(long v) => b.Initializer("c", Tensor.Scalar(v));
        var head = new[] { Vec(b, Dim(b, t, 0)), Vec(b, Dim(b, t, 1)) };
        Value[] tail = style switch
        {
            Style.HeadCountByDiv => [Div(Dim(b, t, 2), Const(HeadDim)), b.Int64s("d", HeadDim)],
            Style.HeadSizeByDiv => [b.Int64s("h", Heads), Div(Dim(b, t, 2), Const(Heads))],
            Style.SharedDivisor => [b.Int64s("h", Heads), Div(Dim(b, t, 2), shared!)],
            Style.HeadSizeFromInput => [b.Int64s("h", Heads), Div(Dim(b, blockInput, 2), Const(Heads))],
            Style.MergeByMul => [b.Int64s("h", Heads), b.Int64s("d", HeadDim)],
            Style.HeadSizeBySub => [b.Int64s("h", Heads), Vec(b, b.Op("Sub", [Dim(b, t, 2), Const(C - HeadDim)]))],
            _ => [b.Int64s("h", Heads), Div(Dim(b, t, 2), b.Op("Add", [Const(2), Const(2)]))],
        };
        return b.Concat(0, [.. head, .. tail]);
    }

    /// <summary>A pre-norm encoder, separate Q/K/V projections, heads split by a run-time target of <paramref name="style"/>.</summary>
    public static OnnxModel Model(int seed, Style style, int layers = 2)
    {
        var f = new ModelFactory(new Random(seed));
        var b = f.B;
        var x = b.Input("x", ElementType.Float, "N", "T", C);
        var shared = b.Initializer("num_heads", Tensor.Scalar(Heads));
        var h = x;
        for (int l = 0; l < layers; l++)
        {
            var n = f.LayerNorm(h, C);
            Value Heads4(Value t, params long[] perm) => b.Transpose(b.Op("Reshape", [t, HeadsTarget(b, t, h, style, shared)]), perm);
            var q = Heads4(f.Linear(n, C, C), 0, 2, 1, 3);
            var k = Heads4(f.Linear(n, C, C), 0, 2, 3, 1);
            var v = Heads4(f.Linear(n, C, C), 0, 2, 1, 3);
            var attn = b.Transpose(b.MatMul(b.Softmax(b.Mul(b.MatMul(q, k), f.Scalar(0.5f)), -1), v), 0, 2, 1, 3);
            var width = style == Style.MergeByMul ? Vec(b, b.Op("Mul", [Dim(b, attn, 2), b.Initializer("c", Tensor.Scalar(HeadDim))])) : b.Int64s("c", C);
            var merged = b.Op("Reshape", [attn, b.Concat(0, Vec(b, Dim(b, attn, 0)), Vec(b, Dim(b, attn, 1)), width)]);
            h = b.Add(h, f.Linear(merged, C, C));
            h = b.Add(h, f.Linear(f.Gelu(f.Linear(f.LayerNorm(h, C), C, Hidden)), Hidden, C));
        }
        b.Output(f.Linear(f.LayerNorm(h, C), C, Vocab), ElementType.Float, "N", "T", Vocab);
        return b.Build();
    }

    private static readonly Dictionary<string, long> Dims = new() { ["N"] = 2, ["T"] = 3 };

    [TestCase(Style.HeadCountByDiv)]
    [TestCase(Style.HeadSizeByDiv)]
    [TestCase(Style.HeadSizeFromInput)]
    [TestCase(Style.MergeByMul)]
    public void RunTimeHeadArithmeticGroupsTheHeadsAndMatchesTheOracle(Style style)
    {
        var analysis = DependencyAnalyzer.Analyze(Model(1, style));
        var heads = analysis.Groups.Where(g => g.Kind == GroupKind.AttentionHeads).ToList();
        Assert.That(heads, Has.Count.EqualTo(2), string.Join("\n", analysis.Groups));
        Assert.That(heads.All(g => !g.IsBlocked && g.Size == Heads), Is.True, string.Join("\n", heads.SelectMany(g => g.BlockedReasons)));
        var divisors = heads[0].Items.OfType<ShapeElementItem>().Where(i => i.Owner.OpType == "Div").ToList();
        // HF style: the three Divs that compute Q's, K's and V's head size read divisors rewritten with the head count.
        Assert.That(divisors, Has.Count.EqualTo(style == Style.HeadSizeByDiv ? 3 : 0), string.Join("\n", heads[0].Items));
        Assert.That(divisors.All(i => i.Factor == 1), Is.True);
        var outcome = Oracle.Check(Model(1, style), new Random(2), 0.5, Dims);
        Assert.That(outcome.Analysis.Prunable.Count(g => g.Kind == GroupKind.AttentionHeads), Is.EqualTo(2));
        Assert.That(outcome.Result.ParametersAfter, Is.LessThan(outcome.Result.ParametersBefore));
        Assert.That(outcome.MaxRelativeDiff, Is.LessThanOrEqualTo(Oracle.Tolerance));
    }

    [Test]
    public void RewrittenDivisorHoldsTheNewHeadCount()
    {
        var model = Model(3, Style.HeadSizeByDiv, layers: 1);
        var analysis = DependencyAnalyzer.Analyze(model);
        var heads = analysis.Groups.Single(g => g.Kind == GroupKind.AttentionHeads);
        PruningSurgery.Apply(model, [new KeepMask(heads, [1, 3])]);
        var divisors = model.Graph.Nodes.Where(n => n.OpType == "Div" && n.Input(1)!.Constant is { ElementType: ElementType.Int64 })
            .Select(n => n.Input(1)!.Constant!.Data.ToInt64Array()[0]).ToList();
        Assert.That(divisors, Is.EqualTo(new long[] { 2, 2, 2 }), "hidden / num_heads with 2 of 4 heads kept: the divisor is 2, the head size stays 4");
    }

    [Test]
    public void HeadSizeFromTheBlockInputKeepsThatWidthFixed()
    {
        // C // num_heads with C the residual stream's width: pruning the stream would change the head size, so its dim
        // carries the reason (it is blocked by its LayerNorms anyway); the heads stay prunable.
        var analysis = DependencyAnalyzer.Analyze(Model(4, Style.HeadSizeFromInput));
        var stream = analysis.Groups.Single(g => g.Kind == GroupKind.ResidualStream);
        Assert.That(stream.BlockedReasons.Any(r => r.Contains("inner axis 3") && r.Contains("must then keep its size")), Is.True, string.Join("; ", stream.BlockedReasons));
    }

    [Test]
    public void ASharedDivisorBlocksTheHeadsOfEveryLayerByName()
    {
        var analysis = DependencyAnalyzer.Analyze(Model(5, Style.SharedDivisor));
        var heads = analysis.Groups.Where(g => g.Kind == GroupKind.AttentionHeads).ToList();
        Assert.That(heads, Has.Count.EqualTo(2), string.Join("\n", analysis.Groups));
        foreach (var g in heads)
            Assert.That(g.BlockedReasons.Any(r => r.Contains("'num_heads'") && r.Contains("different groups")), Is.True, string.Join("; ", g.BlockedReasons));
        // One layer: the divisor belongs to one group and is rewritten.
        var outcome = Oracle.Check(Model(5, Style.SharedDivisor, layers: 1), new Random(6), 0.5, Dims);
        Assert.That(outcome.Analysis.Prunable.Count(g => g.Kind == GroupKind.AttentionHeads), Is.EqualTo(1));
        Assert.That(outcome.MaxRelativeDiff, Is.LessThanOrEqualTo(Oracle.Tolerance));
    }

    [TestCase(Style.ComputedDivisor, "through Div node")]
    [TestCase(Style.HeadSizeBySub, "computed from axis 2")]
    public void AHeadSizeThatCannotFollowBlocksTheHeadsWithTheNodeThatComputesIt(Style style, string reason)
    {
        var model = Model(7, style);
        var analysis = DependencyAnalyzer.Analyze(model);
        var heads = analysis.Groups.Where(g => g.Kind == GroupKind.AttentionHeads).ToList();
        Assert.That(heads, Has.Count.EqualTo(2), string.Join("\n", analysis.Groups));
        foreach (var g in heads)
            Assert.That(g.BlockedReasons.Any(r => r.Contains("inner axis 3") && r.Contains(reason)), Is.True, string.Join("; ", g.BlockedReasons));
        // The MLPs are unaffected and still prune exactly.
        var outcome = Oracle.Check(model, new Random(8), 0.5, Dims);
        Assert.That(outcome.Prunable, Is.GreaterThanOrEqualTo(2));
        Assert.That(outcome.MaxRelativeDiff, Is.LessThanOrEqualTo(Oracle.Tolerance));
    }

    [Test]
    public void ShapeArithmeticIsEvaluatedSymbolically()
    {
        // Div(Shape[1], 2) over a symbolic T gives the expression dim ({T}/2) that the Reshape target then carries.
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, "N", "T", 8);
        var target = b.Concat(0, Vec(b, Dim(b, x, 0)), Vec(b, b.Op("Div", [Dim(b, x, 1), b.Initializer("two", Tensor.Scalar(2L))])), b.Int64s("w", 16));
        var y = b.Op("Reshape", [x, target]);
        b.Output(y, ElementType.Float, "N", "T2", 16);
        var model = b.Build();
        var info = ShapeInference.Infer(model.Graph);
        Assert.That(info[y].Shape!.Select(d => d.ToString()), Is.EqualTo(new[] { "N", "({T}/2)", "16" }));
        var scaled = info[target].Elements![1].Scaled!;
        Assert.That((scaled.Divide, scaled.By, scaled.DimValue.Name, scaled.Axis), Is.EqualTo((true, 2L, "x", 1)));
        Assert.That(new DimBindings(new Dictionary<string, long> { ["T"] = 6 }).Resolve(info[y].Shape![1]).Value, Is.EqualTo(3));
    }
}
