using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Tensors;
using OnnxPrune.Tests.Pruning;

namespace OnnxPrune.Tests.Analysis;

/// <summary>Analysis facts checked by construction on real and built graphs.</summary>
public class DependencyAnalyzerTests
{
    private static ConstantSliceItem? SliceOf(PruningGroup g, Value v, int axis) =>
        g.ConstantSlices.FirstOrDefault(i => i.Value == v && i.Axis == axis);

    private static PruningGroup GroupWithSlice(DependencyAnalysis a, Value v, int axis) =>
        a.Groups.Single(g => SliceOf(g, v, axis) is not null);

    // Walks back through Relu/BatchNormalization to the Conv that writes a value, or null (an Add: the stream itself).
    private static Node? Writer(Value v)
    {
        for (var n = v.Producer; n is not null; n = n.Input(0)!.Producer)
        {
            if (n.OpType == "Conv") return n;
            if (n.OpType is not ("Relu" or "BatchNormalization")) return null;
        }
        return null;
    }

    [Test]
    public void Resnet20ResidualStreamsCoupleEveryConvThatReadsOrWritesThem()
    {
        var model = OnnxModel.Load(TestPaths.SharedModel("resnet20_cifar10_sclbl.onnx"));
        var a = DependencyAnalyzer.Analyze(model);
        var adds = model.Graph.Nodes.Where(n => n.OpType == "Add").ToList();
        Assert.That(adds, Has.Count.EqualTo(9));
        // Streams by channel count: writers are the convs feeding the Adds; readers the convs reading an Add's Relu.
        var writers = new Dictionary<long, HashSet<Node>>();
        var readers = new Dictionary<long, HashSet<Node>>();
        foreach (var add in adds)
        {
            foreach (var input in add.Inputs)
                if (Writer(input!) is { } conv)
                {
                    long c = conv.Input(1)!.Constant!.Shape[0];
                    (writers.TryGetValue(c, out var s) ? s : writers[c] = new()).Add(conv);
                }
            foreach (var relu in add.Output(0)!.Consumers.Where(n => n.OpType == "Relu"))
                foreach (var conv in relu.Output(0)!.Consumers.Where(n => n.OpType == "Conv"))
                {
                    long c = conv.Input(1)!.Constant!.Shape[1];
                    (readers.TryGetValue(c, out var s) ? s : readers[c] = new()).Add(conv);
                }
        }
        Assert.That(writers.Keys.Order(), Is.EqualTo(new long[] { 16, 32, 64 }));
        foreach (var (channels, convs) in writers)
        {
            var group = GroupWithSlice(a, convs.First().Input(1)!, 0);
            Assert.That(group.Size, Is.EqualTo(channels));
            Assert.That(group.Kind, Is.EqualTo(GroupKind.ResidualStream));
            Assert.That(group.IsBlocked, Is.False);
            foreach (var w in convs) Assert.That(SliceOf(group, w.Input(1)!, 0), Is.Not.Null, $"writer {w.DisplayName}");
            foreach (var r in readers.GetValueOrDefault(channels) ?? new()) Assert.That(SliceOf(group, r.Input(1)!, 1), Is.Not.Null, $"reader {r.DisplayName}");
            Assert.That(group.ConstantSlices.Count(i => i.Axis == 0 && i.Value!.Constant!.Shape.Count == 4), Is.EqualTo(convs.Count), "no other conv writes the stream");
        }
    }

    [Test]
    public void DepthwiseConvCouplesItsInputAndOutputChannelsAndGroup()
    {
        var f = new ModelFactory(new Random(1));
        var x = f.B.Input("x", ElementType.Float, 1, 3, 8, 8);
        var stem = f.B.Relu(f.Conv(x, 3, 8));
        var dwW = f.W("dw", 8, 1, 3, 3);
        var dw = f.B.Conv(stem, dwW, f.W("dwb", 8), pads: [1, 1, 1, 1], group: 8);
        var y = f.Conv(f.B.Relu(f.BN(dw, 8)), 8, 4, 1);
        f.B.Output(y, ElementType.Float, 1, 4, 8, 8);
        var model = f.B.Build();
        var a = DependencyAnalyzer.Analyze(model);
        var g = GroupWithSlice(a, dwW, 0);
        Assert.That(g.IsBlocked, Is.False);
        Assert.That(g.Size, Is.EqualTo(8));
        Assert.That(g.Root, Is.EqualTo(stem.Producer!.Input(0)!.Producer), "the stem conv creates the units");
        Assert.That(SliceOf(g, stem.Producer!.Input(0)!.Producer!.Input(1)!, 0), Is.Not.Null);
        Assert.That(SliceOf(g, y.Producer!.Input(1)!, 1), Is.Not.Null, "pointwise conv input channels");
        var attr = g.Items.OfType<AttributeItem>().Single();
        Assert.That((attr.Node, attr.Name, attr.Factor), Is.EqualTo((dw.Producer, "group", 1L)));
        Assert.That(a.Groups.Count(x => x.Root == dw.Producer), Is.Zero, "the depthwise conv is no root of its own");

        var outcome = Oracle.Check(model, new Random(2));
        Assert.That(dw.Producer!.Attributes.GetInt("group", 0), Is.EqualTo(4));
        Assert.That(dwW.Constant!.Shape, Is.EqualTo(new long[] { 4, 1, 3, 3 }));
        Assert.That(outcome.MaxRelativeDiff, Is.LessThanOrEqualTo(Oracle.Tolerance));
    }

    [Test]
    public void SqueezeExciteHiddenChannelsAreTheirOwnGroupAndTheMulCouplesTheMainPath()
    {
        var f = new ModelFactory(new Random(3));
        var x = f.B.Input("x", ElementType.Float, 1, 3, 8, 8);
        var main = f.HardSwish(f.BN(f.Conv(x, 3, 8), 8));
        var squeeze = f.Conv(f.B.GlobalAveragePool(main), 8, 2, 1);
        var excite = f.Conv(f.B.Relu(squeeze), 2, 8, 1);
        var scaled = f.B.Mul(main, f.B.Op("HardSigmoid", [excite], ("alpha", 0.2f), ("beta", 0.5f)));
        var y = f.Conv(scaled, 8, 4);
        f.B.Output(y, ElementType.Float, 1, 4, 8, 8);
        var model = f.B.Build();
        var a = DependencyAnalyzer.Analyze(model);
        var mainGroup = GroupWithSlice(a, main.Producer!.Input(0)!.Producer!.Input(0)!.Producer!.Input(1)!, 0);
        Assert.That(SliceOf(mainGroup, excite.Producer!.Input(1)!, 0), Is.Not.Null, "SE expand conv output channels");
        Assert.That(SliceOf(mainGroup, squeeze.Producer!.Input(1)!, 1), Is.Not.Null, "SE squeeze conv input channels");
        Assert.That(SliceOf(mainGroup, y.Producer!.Input(1)!, 1), Is.Not.Null);
        var hidden = GroupWithSlice(a, squeeze.Producer!.Input(1)!, 0);
        Assert.That(hidden, Is.Not.SameAs(mainGroup));
        Assert.That(hidden.Size, Is.EqualTo(2));
        Assert.That(SliceOf(hidden, excite.Producer!.Input(1)!, 1), Is.Not.Null);
        Assert.That(a.Prunable.Count(), Is.EqualTo(2));
        Assert.That(Oracle.Check(model, new Random(4)).MaxRelativeDiff, Is.LessThanOrEqualTo(Oracle.Tolerance));
    }

    [Test]
    public void ConcatAndFlattenGiveOffsetAndBlockMaps()
    {
        var f = new ModelFactory(new Random(5));
        var x = f.B.Input("x", ElementType.Float, "N", 3, 4, 4);
        var a1 = f.B.Relu(f.Conv(x, 3, 5));
        var a2 = f.B.Relu(f.Conv(x, 3, 6));
        var cat = f.B.Concat(1, a1, a2);
        var w = f.W("fc", 11 * 16, 7);
        var y = f.B.Gemm(f.B.Flatten(cat), w);
        f.B.Output(y, ElementType.Float, "N", 7);
        var model = f.B.Build();
        var a = DependencyAnalyzer.Analyze(model);
        var g1 = GroupWithSlice(a, a1.Producer!.Input(0)!.Producer!.Input(1)!, 0);
        var g2 = GroupWithSlice(a, a2.Producer!.Input(0)!.Producer!.Input(1)!, 0);
        Assert.That(SliceOf(g1, w, 0)!.Map, Is.EqualTo(new ComposedMap(new BlockMap(16), new OffsetMap(0, 80))));
        Assert.That(SliceOf(g2, w, 0)!.Map, Is.EqualTo(new ComposedMap(new BlockMap(16), new OffsetMap(80, 96))));
        Assert.That(a.Prunable.Count(), Is.EqualTo(2));
        var outcome = Oracle.Check(model, new Random(6), dims: new Dictionary<string, long> { ["N"] = 2 });
        Assert.That(w.Constant!.Shape[0], Is.EqualTo((long)(Math.Round(5 * 0.5) + Math.Round(6 * 0.5)) * 16), "kept channels × H·W");
        Assert.That(outcome.MaxRelativeDiff, Is.LessThanOrEqualTo(Oracle.Tolerance));
    }

    [Test]
    public void OptionAShortcutPadsAndChannelSlicesAreMappedAndRewritten()
    {
        var f = new ModelFactory(new Random(9));
        var x = f.B.Input("x", ElementType.Float, 1, 3, 8, 8);
        var stream = f.B.Relu(f.Conv(x, 3, 4));
        var pads = f.B.Int64s("pads", 0, 2, 0, 0, 0, 2, 0, 0);
        var shortcut = f.B.Op("Pad", [stream, pads]);
        var wide = f.B.Relu(f.B.Add(shortcut, f.BN(f.Conv(stream, 4, 8), 8)));
        var starts = f.B.Int64s("starts", 3);
        var ends = f.B.Int64s("ends", 6);
        var part = f.B.Op("Slice", [wide, starts, ends, f.B.Int64s("axes", 1)]);
        var y = f.Conv(part, 3, 2, 1);
        f.B.Output(y, ElementType.Float, 1, 2, 8, 8);
        var model = f.B.Build();
        var a = DependencyAnalyzer.Analyze(model);
        Assert.That(a.Blocked.Where(g => !g.BlockedReasons.Any(r => r.Contains("graph output"))), Is.Empty, string.Join("\n", a.Blocked));
        // The 8 wide channels: 2 padded before, 4 from the stream, 2 padded after; the slice reads channels 3..5.
        var padGroups = a.Groups.Where(g => g.Items.Any(i => i is ShapeElementItem && i.Tensor == pads)).ToList();
        Assert.That(padGroups.SelectMany(g => g.Items.OfType<ShapeElementItem>().Where(i => i.Constant == pads).Select(i => i.Index)).Order(), Is.EqualTo(new[] { 1, 5 }));
        var sliceGroups = a.Groups.Where(g => g.Items.Any(i => i.Tensor == ends)).ToList();
        Assert.That(sliceGroups, Is.Not.Empty);
        Assert.That(a.Groups.Any(g => g.Items.Any(i => i.Tensor == starts)), Is.True, "units before the slice start shift it");
        var outcome = Oracle.Check(model, new Random(10), 0.5);
        Assert.That(outcome.MaxRelativeDiff, Is.LessThanOrEqualTo(Oracle.Tolerance));
        var p = pads.Constant!.Data.ToInt64Array();
        var wideChannels = model.Graph.Nodes.Single(n => n.OpType == "Add").Input(1)!.Producer!.Input(1)!.Constant!.Shape[0];
        Assert.That(p[1] + p[5] + model.Graph.Nodes.First(n => n.OpType == "Conv").Input(1)!.Constant!.Shape[0], Is.EqualTo(wideChannels), "pads + stream = wide");
        var se = (starts.Constant!.Data.ToInt64Array()[0], ends.Constant!.Data.ToInt64Array()[0]);
        Assert.That(se.Item2 - se.Item1, Is.EqualTo(model.Graph.Nodes.Last(n => n.OpType == "Conv").Input(1)!.Constant!.Shape[1]), "slice width = last conv input channels");
    }

    [Test]
    public void Opset9AttributeFormsOfSplitSliceAndPadAreRewritten()
    {
        var f = new ModelFactory(new Random(11), opset: 9);
        var x = f.B.Input("x", ElementType.Float, 1, 3, 6, 6);
        var h = f.B.Relu(f.Conv(x, 3, 7));
        var split = f.B.OpNode("Split", [h], 2, ("axis", 1L), ("split", new long[] { 3, 4 }));
        var cat = f.B.Concat(1, f.B.Relu(f.Conv(split.Output(0)!, 3, 5, 1)), f.B.Sigmoid(split.Output(1)!));
        var part = f.B.Op("Slice", [cat], ("starts", new long[] { 2 }), ("ends", new long[] { 8 }), ("axes", new long[] { 1 }));
        var padded = f.B.Op("Pad", [part], ("pads", new long[] { 0, 1, 0, 0, 0, 2, 0, 0 }));
        var y = f.Conv(f.B.Add(padded, f.Conv(h, 7, 9)), 9, 2, 1);
        f.B.Output(y, ElementType.Float, 1, 2, 6, 6);
        var model = f.B.Build();
        var a = DependencyAnalyzer.Analyze(model);
        var attrs = a.Prunable.SelectMany(g => g.Items).OfType<AttributeItem>().Select(i => $"{i.Owner.OpType}.{i.Name}[{i.Element}]").Distinct().Order().ToArray();
        Assert.That(attrs, Is.SupersetOf(new[] { "Pad.pads[1]", "Pad.pads[5]", "Slice.ends[0]", "Slice.starts[0]", "Split.split[0]", "Split.split[1]" }));
        var outcome = Oracle.Check(model, new Random(12), 0.5);
        Assert.That(outcome.MaxRelativeDiff, Is.LessThanOrEqualTo(Oracle.Tolerance));
        var splitSizes = split.Attributes.GetInts("split")!;
        Assert.That(splitSizes.Sum(), Is.EqualTo(model.Graph.Nodes.First(n => n.OpType == "Conv").Input(1)!.Constant!.Shape[0]));
    }

    [Test]
    public void GroupedConvUnitsAreOneChannelIndexInEveryGroup()
    {
        var f = new ModelFactory(new Random(13));
        var x = f.B.Input("x", ElementType.Float, 1, 3, 6, 6);
        var h = f.B.Relu(f.Conv(x, 3, 8));
        var grouped = f.B.Conv(h, f.W("g2", 6, 4, 3, 3), pads: [1, 1, 1, 1], group: 2); // 8 → 6 in 2 groups
        var y = f.Conv(f.B.Relu(grouped), 6, 2, 1);
        f.B.Output(y, ElementType.Float, 1, 2, 6, 6);
        var model = f.B.Build();
        var a = DependencyAnalyzer.Analyze(model);
        var w = grouped.Producer!.Input(1)!;
        var inGroup = GroupWithSlice(a, w, 1);
        Assert.That(inGroup.Size, Is.EqualTo(4), "8 input channels, 4 per group: unit r = channels {r, r+4}");
        Assert.That(SliceOf(inGroup, h.Producer!.Input(0)!.Producer!.Input(1)!, 0)!.Map, Is.EqualTo(new InterleaveMap(4, 2)));
        var outGroup = GroupWithSlice(a, w, 0);
        Assert.That(outGroup.Size, Is.EqualTo(3));
        Assert.That(SliceOf(outGroup, w, 0)!.Map, Is.EqualTo(new InterleaveMap(3, 2)));
        var outcome = Oracle.Check(model, new Random(14), 0.5);
        Assert.That(grouped.Producer.Attributes.GetInt("group", 0), Is.EqualTo(2));
        Assert.That(outcome.MaxRelativeDiff, Is.LessThanOrEqualTo(Oracle.Tolerance));
    }
}
