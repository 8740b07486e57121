using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Tensors;
using OnnxPrune.Tests.Pruning;

namespace OnnxPrune.Tests.Analysis;

/// <summary>ShuffleNetV2-style blocks (Split halves → branch → Concat → Reshape [N, 2, C/2, H, W] → Transpose →
/// Reshape): the shuffle is a permutation, not a blocker, and cuts match the masked reference.</summary>
public class ChannelShuffleTests
{
    private const long C = 8, S = 6;

    private static Value Shuffle(ModelFactory f, Value x, bool runTimeTarget)
    {
        var b = f.B;
        var r = b.Op("Reshape", [x, b.Int64s("shuffle_split", 0, 2, C / 2, S, S)]);
        var t = b.Transpose(r, 0, 2, 1, 3, 4);
        Value target = runTimeTarget
            ? b.Concat(0, b.Op("Unsqueeze", [b.Op("Gather", [b.Op("Shape", [x]), b.Initializer("i", Tensor.Scalar(0L))], ("axis", 0L)), b.Int64s("ax", 0)]), b.Int64s("rest", -1, S, S))
            : b.Int64s("shuffle_merge", 0, C, S, S);
        return b.Op("Reshape", [t, target]);
    }

    /// <summary>Stem conv, <paramref name="blocks"/> ShuffleNetV2 units (split by Split, Slice or Gather-free Slice),
    /// global pool and a Gemm head.</summary>
    public static OnnxModel ShuffleNet(int seed, int blocks = 2, bool slices = false)
    {
        var f = new ModelFactory(new Random(seed));
        var b = f.B;
        var x = b.Input("image", ElementType.Float, "N", 3, S, S);
        var h = b.Relu(f.BN(f.Conv(x, 3, C, 3), C));
        for (int k = 0; k < blocks; k++)
        {
            Value x1, x2;
            if (slices)
            {
                x1 = b.Op("Slice", [h, b.Int64s("s0", 0), b.Int64s("e0", C / 2), b.Int64s("a0", 1)]);
                x2 = b.Op("Slice", [h, b.Int64s("s1", C / 2), b.Int64s("e1", C), b.Int64s("a1", 1)]);
            }
            else
            {
                var split = b.OpNode("Split", [h, b.Int64s("halves", C / 2, C / 2)], 2, ("axis", 1L));
                (x1, x2) = (split.Output(0)!, split.Output(1)!);
            }
            var br = b.Relu(f.BN(f.Conv(x2, C / 2, C / 2, 1), C / 2));
            br = f.BN(f.Conv(br, C / 2, C / 2, 3, group: C / 2), C / 2);
            br = b.Relu(f.BN(f.Conv(br, C / 2, C / 2, 1), C / 2));
            h = Shuffle(f, b.Concat(1, x1, br), runTimeTarget: k % 2 == 1);
        }
        var pooled = b.Flatten(b.GlobalAveragePool(b.Relu(f.BN(f.Conv(h, C, 2 * C, 1), 2 * C))));
        b.Output(b.Gemm(pooled, f.W("fc", 5, 2 * C), f.W("fcb", 5), transB: true), ElementType.Float, "N", 5);
        return b.Build();
    }

    [TestCase(false)]
    [TestCase(true)]
    public void ShuffleIsAPermutationNotABlocker(bool slices)
    {
        var analysis = DependencyAnalyzer.Analyze(ShuffleNet(1, slices: slices));
        var blocked = analysis.Blocked.ToList();
        // Only the classifier head (its output is the graph output) stays blocked.
        Assert.That(blocked, Has.Count.EqualTo(1), string.Join("\n", analysis.Groups));
        Assert.That(blocked[0].BlockedReasons.All(r => r.Contains("graph output")), Is.True, string.Join("; ", blocked[0].BlockedReasons));
        Assert.That(analysis.Groups.SelectMany(g => g.BlockedReasons).Any(r => r.Contains("inner axis")), Is.False);
        // The shuffle constants are rewritten: C/2 in the split target (factor 1), C in the merge target (factor 2).
        var items = analysis.Groups.SelectMany(g => g.Items.OfType<ShapeElementItem>()).ToList();
        Assert.That(items.Any(i => i.Constant.Name.StartsWith("shuffle_split") && i.Index == 2 && i.Factor == 1), Is.True);
        Assert.That(items.Any(i => i.Constant.Name.StartsWith("shuffle_merge") && i.Index == 1 && i.Factor == 2), Is.True);
    }

    [TestCase(0.5, 3, false)]
    [TestCase(0.25, 4, true)]
    [TestCase(0.75, 5, false)]
    public void PrunedShuffleNetMatchesTheOracle(double keep, int seed, bool slices)
    {
        var outcome = Oracle.Check(ShuffleNet(seed, blocks: 3, slices: slices), new Random(seed), keep, new Dictionary<string, long> { ["N"] = 2 });
        Assert.That(outcome.Prunable, Is.GreaterThanOrEqualTo(4));
        Assert.That(outcome.Result.ParametersAfter, Is.LessThan(outcome.Result.ParametersBefore));
        Assert.That(outcome.MaxRelativeDiff, Is.LessThanOrEqualTo(Oracle.Tolerance));
    }
}
