using OnnxPrune.Graph;
using OnnxPrune.Graph.Passes;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Graph;

/// <summary>Cleanup and opset-upgrade passes: outputs unchanged on ONNX Runtime, preconditions refused before editing.</summary>
public class PassTests
{
    private static Tensor RandomInput(long[] shape, int seed)
    {
        var t = Tensor.Zeros(ElementType.Float, shape);
        var r = new Random(seed);
        var s = t.AsSpan<float>();
        for (int i = 0; i < s.Length; i++) s[i] = r.NextSingle() * 4 - 2;
        return t;
    }

    private static IReadOnlyDictionary<string, Tensor> Run(OnnxModel model, Tensor x)
    {
        using var session = OrtSessions.Create(model);
        return session.RunTensors(new Dictionary<string, Tensor> { ["x"] = x });
    }

    [Test]
    public void CleanupRemovesIdentitiesDeadCodeAndUnusedValueInfoAndKeepsOutputsBitIdentical()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 2, 3);
        var relu = b.Relu(b.Op("Identity", [x]));
        var y = b.Op("Identity", [relu]);                       // produces a graph output: stays
        var dead = b.Op("Sigmoid", [b.Op("Identity", [x])]);     // nobody reads it
        dead.SetTensorType(ElementType.Float, [new Dim(2), new Dim(3)]);
        var passthrough = b.Op("Identity", [x]);                 // graph input → graph output: stays
        b.Output(y, passthrough);
        b.Initializer("unused", [1f, 2f], 2);
        var model = b.Build();
        relu.SetTensorType(ElementType.Float, [new Dim(2), new Dim(3)]);
        var input = RandomInput([2, 3], 1);
        var before = Run(model, input);

        var result = new CleanupPass().Run(model);

        var ops = model.Graph.Nodes.Select(n => n.OpType).ToArray();
        Assert.That(ops, Is.EqualTo(new[] { "Relu", "Identity", "Identity" }));
        Assert.That(model.Graph.Nodes[0].Input(0), Is.SameAs(model.Graph.GetValue("x")), "the Identity before Relu is gone");
        Assert.That(model.Graph.Initializers, Is.Empty);
        Assert.That(model.ToProto().Graph.ValueInfo.Select(v => v.Name), Is.EquivalentTo(new[] { relu.Name }), "the dead Sigmoid's declaration is gone");
        Assert.That(result.Changes, Is.GreaterThanOrEqualTo(4));
        var after = Run(model, input);
        Assert.That(after.Keys, Is.EquivalentTo(before.Keys), "outputs keep their names");
        foreach (var (name, t) in before) Assert.That(after[name].AsSpan<float>().ToArray(), Is.EqualTo(t.AsSpan<float>().ToArray()), name);
    }

    [Test]
    public void CleanupSortsNodesTopologically()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 4);
        var a = b.Relu(x);
        b.Output(b.Op("Neg", [a]));
        var model = b.Build();
        var g = model.Graph;
        var neg = g.Nodes[1];
        g.RemoveOutput(neg.Output(0)!);
        var late = g.AddNode("Abs", [neg.Output(0)], ["late"], index: 0); // reads Neg's output but comes first
        g.AddOutput(late.Output(0)!);
        new CleanupPass().Run(model);
        Assert.That(g.Nodes.Select(n => n.OpType), Is.EqualTo(new[] { "Relu", "Neg", "Abs" }));
    }

    [Test]
    public void CleanupRefusesACycleBeforeEditing()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 4);
        var first = b.Relu(b.Op("Identity", [x]));
        var second = b.Relu(first);
        b.Output(second);
        var model = b.Build();
        var g = model.Graph;
        var firstNode = first.Producer!;
        g.SetInput(firstNode, 0, second); // Relu → Relu → back: a cycle; the Identity is now dead
        var bytes = model.ToBytes();
        var e = Assert.Throws<UnsupportedModelException>(() => new CleanupPass().Run(model));
        Assert.That(e!.Message, Does.Contain("cycle").And.Contain("Relu"));
        Assert.That(model.ToBytes(), Is.EqualTo(bytes), "nothing was edited");
    }

    [Test]
    public void OpsetUpgradeOfAnOpset9ModelKeepsItsOutputsOnOnnxRuntime()
    {
        var b = new GraphBuilder(opset: 9);
        var x = b.Input("x", ElementType.Float, 1, 3, 4, 4);
        var clip = b.Op("Clip", [x], ("min", -1f), ("max", 1.5f));
        var pad = b.Op("Pad", [clip], ("pads", new long[] { 0, 0, 1, 1, 0, 0, 1, 1 }), ("value", 0.25f));
        var bn = b.Op("BatchNormalization", [pad, b.Initializer("s", [1f, 2f, 0.5f], 3), b.Initializer("bias", [0f, 0.1f, -0.1f], 3),
            b.Initializer("m", [0.1f, 0f, 0.2f], 3), b.Initializer("v", [1f, 0.5f, 2f], 3)]);
        var soft = b.Op("Softmax", [bn], ("axis", 1L));  // opset < 13: softmax over the flattened [3·6·6] row
        var up = b.Op("Upsample", [soft, b.Initializer("scales", [1f, 1f, 2f, 2f], 4)], ("mode", "nearest"));
        var sq = b.Op("Unsqueeze", [up], ("axes", new long[] { 0 }));
        b.Output(sq);
        var model = b.Build();
        var input = RandomInput([1, 3, 4, 4], 2);
        var before = Run(model, input).Values.Single().AsSpan<float>().ToArray();

        var result = new OpsetUpgradePass(v => v == bn ? [1, 3, 6, 6] : null).Run(model);

        Assert.That(model.GetOpset(""), Is.EqualTo(OpsetUpgradePass.TargetOpset));
        Assert.That(result.Changes, Is.GreaterThan(0));
        Assert.That(model.Graph.Nodes.Any(n => n.OpType == "Upsample"), Is.False);
        var after = Run(model, input).Values.Single().AsSpan<float>().ToArray();
        Assert.That(after.Length, Is.EqualTo(before.Length));
        for (int i = 0; i < before.Length; i++) Assert.That(after[i], Is.EqualTo(before[i]).Within(1e-6f + 1e-5f * Math.Abs(before[i])), $"[{i}]");
    }

    [Test]
    public void OpsetUpgradeRefusesBeforeEditing()
    {
        // A Clip the pass would rewrite comes first; the Softmax after it has no known shape.
        var b = new GraphBuilder(opset: 9);
        var x = b.Input("x", ElementType.Float, "N", 3);
        b.Output(b.Op("Softmax", [b.Op("Clip", [x], ("min", 0f), ("max", 1f))]));
        var model = b.Build();
        var bytes = model.ToBytes();
        var e = Assert.Throws<UnsupportedModelException>(() => new OpsetUpgradePass().Run(model));
        Assert.That(e!.Message, Does.Contain("Softmax"));
        Assert.That(model.ToBytes(), Is.EqualTo(bytes), "nothing was edited");

        var legacy = new GraphBuilder(opset: 9);
        var y = legacy.Input("x", ElementType.Float, 2, 3);
        var add = legacy.Op("Add", [legacy.Op("Clip", [y], ("min", 0f), ("max", 1f)), legacy.Initializer("c", [1f, 2f, 3f], 3)], ("broadcast", 1L));
        legacy.Output(add);
        var old = legacy.Build();
        var oldBytes = old.ToBytes();
        Assert.That(() => new OpsetUpgradePass().Run(old), Throws.TypeOf<UnsupportedModelException>().With.Message.Contain("broadcast"));
        Assert.That(old.ToBytes(), Is.EqualTo(oldBytes));
    }

    [Test]
    public void ReorderOnlyFollowsAValueToItsRealUses()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 2, 4);
        var w = b.Initializer("w", new float[8], 2, 4);
        var t = b.Op("Transpose", [b.Op("Reshape", [w, b.Int64s("shape", 2, 4)])], ("perm", new long[] { 1, 0 }));
        var mm = b.MatMul(x, t);
        var divided = b.Op("Div", [x, b.Op("Identity", [w])]);
        var exposed = b.Op("Cast", [w], ("to", (long)ElementType.Float));
        b.Output(mm, divided, exposed);
        b.Build();
        var uses = ReorderOnly.UsesThrough(w).ToArray();
        Assert.That(uses.Where(u => !u.IsGraphOutput).Select(u => (u.Consumer!.OpType, u.InputIndex)), Is.EquivalentTo(new[] { ("MatMul", 1), ("Div", 1) }));
        Assert.That(uses.Where(u => u.IsGraphOutput).Select(u => u.Value), Is.EqualTo(new[] { exposed }));
        // A narrower pass-through stops at the Reshape (its shape input is not followed either).
        var direct = ReorderOnly.UsesThrough(w, (_, _) => false).Select(u => u.Consumer!.OpType);
        Assert.That(direct, Is.EquivalentTo(new[] { "Reshape", "Identity", "Cast" }));
    }
}
