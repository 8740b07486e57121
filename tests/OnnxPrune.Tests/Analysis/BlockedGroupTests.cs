using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Tensors;
using OnnxPrune.Tests.Pruning;

namespace OnnxPrune.Tests.Analysis;

/// <summary>What the analyser cannot prove safe is reported blocked, with the node and reason, and surgery refuses it.</summary>
public class BlockedGroupTests
{
    private static (ModelFactory F, Value X, Value Conv) Start()
    {
        var f = new ModelFactory(new Random(7));
        var x = f.B.Input("x", ElementType.Float, "N", 3, 4, 4);
        return (f, x, f.B.Relu(f.Conv(x, 3, 6)));
    }

    private static PruningGroup RootGroup(OnnxModel m, Node conv) =>
        DependencyAnalyzer.Analyze(m).Groups.Single(g => g.Root == conv);

    [Test]
    public void ConvFeedingAGraphOutputIsBlocked()
    {
        var (f, _, c) = Start();
        f.B.Output(c, ElementType.Float, "N", 6, 4, 4);
        var m = f.B.Build();
        var g = RootGroup(m, c.Producer!.Input(0)!.Producer!);
        Assert.That(g.IsBlocked, Is.True);
        Assert.That(g.BlockedReasons, Has.Some.Contains(c.Name).And.Contains("graph output"));
        var ex = Assert.Throws<PruningConstraintException>(() => PruningSurgery.Apply(m, [new KeepMask(g, [0, 1])]));
        Assert.That(ex!.Message, Does.Contain("blocked"));
    }

    [Test]
    public void ReshapeWithARunTimeTargetThatCannotBeMappedBlocks()
    {
        // Target [N, C·H·W / 2, 2]: the middle element is computed from the shape and a constant divisor.
        var (f, _, c) = Start();
        var shape = f.B.Op("Shape", [c]);
        Value Dim(long i) => f.B.Op("Gather", [shape, f.B.Int64s("i", i)], ("axis", 0L));
        var chw = f.B.Mul(f.B.Mul(Dim(1), Dim(2)), Dim(3));
        var half = f.B.Op("Div", [chw, f.B.Int64s("two", 2)]);
        var target = f.B.Concat(0, Dim(0), half, f.B.Int64s("two_", 2));
        var r = f.B.Op("Reshape", [c, target]);
        var y = f.B.Op("ReduceSum", [r, f.B.Int64s("axes", 1, 2)], ("keepdims", 0L));
        f.B.Output(y, ElementType.Float, "N");
        var m = f.B.Build();
        var g = RootGroup(m, c.Producer!.Input(0)!.Producer!);
        Assert.That(g.IsBlocked, Is.True);
        Assert.That(g.BlockedReasons, Has.Some.Contains(r.Producer!.DisplayName));
    }

    [Test]
    public void ReshapeWithATargetFromAGraphInputBlocks()
    {
        var (f, _, c) = Start();
        var target = f.B.Input("target", ElementType.Int64, 2);
        var r = f.B.Op("Reshape", [c, target]);
        f.B.Output(f.B.Op("ReduceSum", [r], ("keepdims", 0L)), ElementType.Float);
        var m = f.B.Build();
        var g = RootGroup(m, c.Producer!.Input(0)!.Producer!);
        Assert.That(g.BlockedReasons, Has.Some.Contains(r.Producer!.DisplayName).And.Contains("run time"));
    }

    [Test]
    public void UnknownOpsBlockAndAreNamed()
    {
        var (f, _, c) = Start();
        var node = f.B.Graph.AddNode("MyOp", [c], ["custom"], name: "mystery", domain: "com.example");
        var y = f.Conv(node.Output(0)!, 6, 2, 1);
        f.B.Output(y, ElementType.Float, "N", 2, 4, 4);
        f.B.Model.SetOpset("com.example", 1);
        var m = f.B.Build();
        var g = RootGroup(m, c.Producer!.Input(0)!.Producer!);
        Assert.That(g.BlockedReasons, Has.Some.Contains("mystery").And.Contains("not supported"));
    }

    [Test]
    public void AConstantSharedWithAnOpaqueNodeBlocks()
    {
        var (f, x, c) = Start();
        var conv = c.Producer!.Input(0)!.Producer!;
        var bias = conv.Input(2)!;
        var y = f.Conv(c, 6, 2, 1);
        var other = f.B.Op("ReduceMax", [bias], ("keepdims", 0L));
        f.B.Output(y, ElementType.Float, "N", 2, 4, 4);
        f.B.Output(other, ElementType.Float);
        var m = f.B.Build();
        var g = RootGroup(m, conv);
        Assert.That(g.BlockedReasons, Has.Some.Contains(other.Producer!.DisplayName));
    }

    [Test]
    public void SurgeryRejectsGroupsOfAnotherModel()
    {
        var (f, _, c) = Start();
        f.B.Output(f.Conv(c, 6, 2, 1), ElementType.Float, "N", 2, 4, 4);
        var m = f.B.Build();
        var g = DependencyAnalyzer.Analyze(m).Prunable.First();
        var copy = OnnxModel.FromBytes(m.ToBytes());
        Assert.Throws<ArgumentException>(() => PruningSurgery.Apply(copy, [new KeepMask(g, [0])]));
    }
}
