using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Tensors;
using OnnxPrune.Tests.Pruning;

namespace OnnxPrune.Tests.Analysis;

/// <summary>Megatron-style fused QKV (issue 12): one projection whose 3·H·D outputs are laid out per head as [H, 3, D]
/// (Reshape [B, T, H, 3·D] then Split on the last axis, or Reshape [B, T, H, 3, D] then Gather/Slice on axis 3). A head
/// owns 3·D consecutive rows of the fused projection.</summary>
public class MegatronQkvTests
{
    private const long C = 16, HeadDim = 4, Hidden = 24, Vocab = 5;

    /// <summary>How Q, K and V are separated.</summary>
    public enum Layout
    {
        /// <summary>Reshape [B, T, H, 3·D] → Split on axis 3 into three D-wide parts.</summary>
        SplitLastAxis,
        /// <summary>Reshape [B, T, H, 3, D] → Gather on axis 3.</summary>
        GatherAxis3,
        /// <summary>Reshape [B, T, H, 3, D] → Slice [i, i+1) on axis 3 → Squeeze.</summary>
        SliceAxis3,
    }

    private static Value DimOf(GraphBuilder b, Value t, long axis) =>
        b.Op("Unsqueeze", [b.Op("Gather", [b.Op("Shape", [t]), b.Initializer("i", Tensor.Scalar(axis))], ("axis", 0L)), b.Int64s("ax", 0)]);

    /// <summary>A two-layer pre-norm encoder with Megatron fused QKV of <paramref name="heads"/> heads;
    /// <paramref name="runTimeHeads"/> computes the head count as 3·H·D / (3·D) from the projection's shape.</summary>
    public static OnnxModel Model(int seed, Layout layout, long heads, bool runTimeHeads = false)
    {
        var f = new ModelFactory(new Random(seed));
        var b = f.B;
        long inner = heads * HeadDim;
        var x = b.Input("x", ElementType.Float, "N", "T", C);
        var h = x;
        for (int l = 0; l < 2; l++)
        {
            var qkv = f.Linear(f.LayerNorm(h, C), C, 3 * inner);
            var headCount = runTimeHeads
                ? b.Op("Unsqueeze", [b.Op("Div", [b.Op("Gather", [b.Op("Shape", [qkv]), b.Initializer("i", Tensor.Scalar(2L))], ("axis", 0L)), b.Initializer("d3", Tensor.Scalar(3 * HeadDim))]), b.Int64s("ax", 0)])
                : b.Int64s("h", heads);
            Value[] parts;
            if (layout == Layout.SplitLastAxis)
            {
                var r = b.Op("Reshape", [qkv, b.Concat(0, DimOf(b, qkv, 0), DimOf(b, qkv, 1), headCount, b.Int64s("d3", 3 * HeadDim))]);
                var split = b.OpNode("Split", [r, b.Int64s("split", HeadDim, HeadDim, HeadDim)], 3, ("axis", 3L));
                parts = [split.Output(0)!, split.Output(1)!, split.Output(2)!];
            }
            else
            {
                var r = b.Op("Reshape", [qkv, b.Concat(0, DimOf(b, qkv, 0), DimOf(b, qkv, 1), headCount, b.Int64s("d3", 3, HeadDim))]);
                parts = Enumerable.Range(0, 3).Select(i => layout == Layout.GatherAxis3
                    ? b.Op("Gather", [r, b.Initializer("p", Tensor.Scalar((long)i))], ("axis", 3L))
                    : b.Op("Squeeze", [b.Op("Slice", [r, b.Int64s("s", i), b.Int64s("e", i + 1), b.Int64s("a", 3)]), b.Int64s("sa", 3)])).ToArray();
            }
            var q = b.Transpose(parts[0], 0, 2, 1, 3);
            var k = b.Transpose(parts[1], 0, 2, 3, 1);
            var v = b.Transpose(parts[2], 0, 2, 1, 3);
            var attn = b.Transpose(b.MatMul(b.Softmax(b.Mul(b.MatMul(q, k), f.Scalar(0.5f)), -1), v), 0, 2, 1, 3);
            var merged = b.Op("Reshape", [attn, b.Concat(0, DimOf(b, attn, 0), DimOf(b, attn, 1), b.Int64s("c", inner))]);
            h = b.Add(h, f.Linear(merged, inner, C));
            h = b.Add(h, f.Linear(f.Gelu(f.Linear(f.LayerNorm(h, C), C, Hidden)), Hidden, C));
        }
        b.Output(f.Linear(f.LayerNorm(h, C), C, Vocab), ElementType.Float, "N", "T", Vocab);
        return b.Build();
    }

    [TestCase(Layout.SplitLastAxis, 4)]
    [TestCase(Layout.GatherAxis3, 4)]
    [TestCase(Layout.SliceAxis3, 4)]
    [TestCase(Layout.SplitLastAxis, 3)]
    [TestCase(Layout.GatherAxis3, 3)]
    [TestCase(Layout.SliceAxis3, 2)]
    [TestCase(Layout.SplitLastAxis, 4, true)]
    [TestCase(Layout.GatherAxis3, 3, true)]
    public void HeadsOwnThreeHeadDimsOfConsecutiveRowsAndMatchTheOracle(Layout layout, long heads, bool runTimeHeads = false)
    {
        var analysis = DependencyAnalyzer.Analyze(Model(1, layout, heads, runTimeHeads));
        var groups = analysis.Groups.Where(g => g.Kind == GroupKind.AttentionHeads).ToList();
        Assert.That(groups, Has.Count.EqualTo(2), string.Join("\n", analysis.Groups));
        Assert.That(groups.All(g => !g.IsBlocked && g.Size == heads), Is.True, string.Join("\n", groups.SelectMany(g => g.BlockedReasons)));
        // Head 1 owns rows [3·D, 6·D) of the fused projection (its output axis), Q, K and V together.
        var fused = groups[0].ConstantSlices.Single(s => s.Value.Constant!.Shape.SequenceEqual(new[] { C, 3 * heads * HeadDim }));
        Assert.That(fused.Axis, Is.EqualTo(1));
        Assert.That(fused.Map.Positions(1), Is.EqualTo(Enumerable.Range(12, 12).Select(p => (long)p)));
        var outcome = Oracle.Check(Model(1, layout, heads, runTimeHeads), new Random(2), 0.5, new Dictionary<string, long> { ["N"] = 2, ["T"] = 3 });
        Assert.That(outcome.Analysis.Prunable.Count(g => g.Kind == GroupKind.AttentionHeads), Is.EqualTo(2));
        Assert.That(outcome.Result.ParametersAfter, Is.LessThan(outcome.Result.ParametersBefore));
        Assert.That(outcome.MaxRelativeDiff, Is.LessThanOrEqualTo(Oracle.Tolerance));
    }
}
