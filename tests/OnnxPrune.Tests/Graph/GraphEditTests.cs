using OnnxPrune.Graph;
using OnnxPrune.Onnx;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Graph;

/// <summary>Graph edits keep producers, consumers and graph outputs in step; the result exports to a valid model.</summary>
public class GraphEditTests
{
    /// <summary>Checks every edge both ways: each node input lists the node as consumer (once per use), each
    /// output names the node as producer; each value's consumers really read it; flags match the lists.</summary>
    public static void AssertConsistent(OnnxPrune.Graph.Graph g)
    {
        var nodes = g.Nodes.ToHashSet();
        foreach (var n in g.Nodes)
        {
            foreach (var v in n.Inputs.Concat(n.ImplicitInputs))
            {
                if (v is null) continue;
                Assert.That(g.FindValue(v.Name), Is.SameAs(v), $"{n.DisplayName} reads '{v.Name}', which the graph does not know");
                int uses = n.Inputs.Count(i => i == v) + n.ImplicitInputs.Count(i => i == v);
                Assert.That(v.Consumers.Count(c => c == n), Is.EqualTo(uses), $"'{v.Name}' consumers vs uses by {n.DisplayName}");
            }
            foreach (var o in n.Outputs)
                if (o is not null) Assert.That(o.Producer, Is.SameAs(n), $"producer of '{o.Name}'");
        }
        foreach (var v in g.Values)
        {
            foreach (var c in v.Consumers)
                Assert.That(nodes.Contains(c), Is.True, $"'{v.Name}' lists removed node {c.DisplayName} as consumer");
            if (v.Producer is { } p)
            {
                Assert.That(nodes.Contains(p), Is.True, $"'{v.Name}' is produced by removed node {p.DisplayName}");
                Assert.That(p.Outputs, Does.Contain(v));
            }
            Assert.That(v.IsGraphOutput, Is.EqualTo(g.Outputs.Contains(v)), $"'{v.Name}' output flag");
            Assert.That(v.IsGraphInput, Is.EqualTo(g.Inputs.Contains(v)), $"'{v.Name}' input flag");
        }
        foreach (var o in g.Outputs) Assert.That(g.FindValue(o.Name), Is.SameAs(o));
    }

    private static void AssertExportsValid(OnnxModel model)
    {
        var proto = model.ToProto();
        Assert.DoesNotThrow(() => ModelValidator.Validate(proto, "edited"));
        Assert.That(OnnxModel.FromProto(proto).ToProto(), Is.EqualTo(proto), "export → import → export is stable");
    }

    // x → Relu(a) → Sigmoid(b) → Add(a, b)=c → output; plus a dead branch Neg(x)=d; plus an unused initializer.
    private static (OnnxModel Model, Value X, Node Relu, Node Sigmoid, Node Add, Node Dead) Sample()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 1, 4);
        var a = b.Relu(x);
        var s = b.Sigmoid(a);
        var c = b.Add(a, s);
        var dead = b.Op("Neg", [x]);
        b.Initializer("unused", Tensor.FromArray<float>([1f, 2f], 2));
        b.Output(c, ElementType.Float, 1, 4);
        var m = b.Build();
        return (m, x, a.Producer!, s.Producer!, c.Producer!, dead.Producer!);
    }

    [Test]
    public void AddNodeWiresBothWays()
    {
        var (m, x, relu, _, add, _) = Sample();
        AssertConsistent(m.Graph);
        Assert.That(relu.Output(0)!.Consumers, Has.Count.EqualTo(2), "Sigmoid and Add read Relu's output");
        Assert.That(x.Consumers, Has.Count.EqualTo(2), "Relu and Neg read x");
        var twice = m.Graph.AddNode("Mul", [relu.Output(0), relu.Output(0)], ["sq"]);
        Assert.That(relu.Output(0)!.Consumers.Count(n => n == twice), Is.EqualTo(2), "one consumer entry per use");
        Assert.That(twice.Output(0)!.Producer, Is.SameAs(twice));
        var taken = m.Graph.AddNode("Relu", [x], ["sq"]);
        Assert.That(taken.Output(0)!.Name, Is.Not.EqualTo("sq"), "output names are made unique");
        AssertConsistent(m.Graph);
        Assert.That(add.Output(0)!.IsGraphOutput, Is.True);
    }

    [Test]
    public void RemoveNodeRefusesUsedOutputsAndCleansEdges()
    {
        var (m, x, relu, _, _, dead) = Sample();
        Assert.Throws<InvalidOperationException>(() => m.Graph.RemoveNode(relu));
        var deadOut = dead.Output(0)!.Name;
        m.Graph.RemoveNode(dead);
        Assert.That(m.Graph.Nodes, Does.Not.Contain(dead));
        Assert.That(x.Consumers, Does.Not.Contain(dead));
        Assert.That(m.Graph.FindValue(deadOut), Is.Null, "the removed node's unused output is gone");
        AssertConsistent(m.Graph);
        AssertExportsValid(m);
    }

    [Test]
    public void SetInputMovesTheConsumer()
    {
        var (m, x, relu, sigmoid, _, _) = Sample();
        var a = relu.Output(0)!;
        m.Graph.SetInput(sigmoid, 0, x);
        Assert.That(a.Consumers, Does.Not.Contain(sigmoid));
        Assert.That(x.Consumers, Does.Contain(sigmoid));
        Assert.That(sigmoid.Input(0), Is.SameAs(x));
        m.Graph.SetInput(sigmoid, 2, null); // omitted optional inputs pad with null
        Assert.That(sigmoid.Inputs, Has.Count.EqualTo(3));
        AssertConsistent(m.Graph);
    }

    [Test]
    public void ReplaceAllUsesRewiresNodesAndGraphOutputs()
    {
        var (m, x, relu, sigmoid, add, _) = Sample();
        var c = add.Output(0)!;
        var id = m.Graph.AddNode("Identity", [relu.Output(0)], ["c2"]);
        var c2 = id.Output(0)!;
        m.Graph.ReplaceAllUses(relu.Output(0)!, x);
        Assert.That(relu.Output(0)!.Consumers, Is.Empty);
        Assert.That(sigmoid.Input(0), Is.SameAs(x));
        Assert.That(add.Input(0), Is.SameAs(x));
        Assert.That(id.Input(0), Is.SameAs(x));
        // Replacing a graph output: the output list points at the replacement, flags follow.
        m.Graph.ReplaceAllUses(c, c2);
        Assert.That(m.Graph.Outputs, Is.EqualTo(new[] { c2 }));
        Assert.That(c.IsGraphOutput, Is.False);
        Assert.That(c2.IsGraphOutput, Is.True);
        AssertConsistent(m.Graph);
        Assert.That(m.Graph.EliminateDeadCode(), Is.EqualTo(4), "Relu, Sigmoid, Add and Neg are dead now");
        Assert.That(m.Graph.Nodes, Is.EqualTo(new[] { id }));
        AssertConsistent(m.Graph);
        AssertExportsValid(m);
    }

    [Test]
    public void EliminateDeadCodeRemovesDeadChainsAndUnusedInitializersOnly()
    {
        var (m, x, _, _, _, dead) = Sample();
        // Extend the dead branch into a chain: Neg → Exp → Log.
        var exp = m.Graph.AddNode("Exp", [dead.Output(0)], ["e"]);
        m.Graph.AddNode("Log", [exp.Output(0)], ["l"]);
        int before = m.Graph.Nodes.Count;
        Assert.That(m.Graph.EliminateDeadCode(), Is.EqualTo(3));
        Assert.That(m.Graph.Nodes, Has.Count.EqualTo(before - 3));
        Assert.That(m.Graph.Nodes.Select(n => n.OpType), Is.EqualTo(new[] { "Relu", "Sigmoid", "Add" }));
        Assert.That(m.Graph.FindValue("unused"), Is.Null);
        Assert.That(m.Graph.Initializers, Is.Empty);
        Assert.That(m.Graph.Inputs, Does.Contain(x), "graph inputs are kept");
        Assert.That(m.Graph.EliminateDeadCode(), Is.Zero, "idempotent");
        AssertConsistent(m.Graph);
        AssertExportsValid(m);
    }

    [Test]
    public void TopologicalSortOrdersStablyAndDetectsCycles()
    {
        var g = new OnnxPrune.Graph.Graph();
        var x = g.AddInput("x", ElementType.Float, [new Dim(1)]);
        // Added out of order: c reads b, b reads a; an independent node sits between.
        var a = g.AddNode("Relu", [x], ["a"], name: "A");
        var c = g.AddNode("Neg", [x], ["c"], name: "C", index: 0);
        var other = g.AddNode("Abs", [x], ["o"], name: "O", index: 1);
        var b = g.AddNode("Exp", [x], ["b"], name: "B", index: 0);
        g.SetInput(c, 0, b.Output(0));
        g.SetInput(b, 0, a.Output(0));
        g.AddOutput(c.Output(0)!);
        g.AddOutput(other.Output(0)!);
        Assert.That(g.Nodes.Select(n => n.Name), Is.EqualTo(new[] { "B", "C", "O", "A" }));
        g.TopologicalSort();
        Assert.That(g.Nodes.Select(n => n.Name), Is.EqualTo(new[] { "O", "A", "B", "C" }), "Kahn with the old position as tie-break");
        AssertConsistent(g);

        g.SetInput(a, 0, c.Output(0)); // A reads C: A → B → C → A
        var e = Assert.Throws<OnnxFormatException>(() => g.TopologicalSort());
        Assert.That(e!.Message, Does.Contain("cycle"));
        Assert.That(g.Nodes, Has.Count.EqualTo(4), "a failed sort leaves the nodes in place");
    }

    [Test]
    public void InitializerEditsAndRemoval()
    {
        var (m, x, relu, _, _, _) = Sample();
        var w = m.Graph.AddInitializer("w", Tensor.FromArray<float>([1f, 2f, 3f, 4f], 1, 4));
        m.Graph.SetInput(relu, 0, w.Value);
        Assert.Throws<InvalidOperationException>(() => m.Graph.RemoveInitializer(w));
        m.Graph.SetInput(relu, 0, x);
        m.Graph.RemoveInitializer(w);
        Assert.That(m.Graph.FindValue("w"), Is.Null);
        Assert.That(m.Graph.CreateValue("w").Name, Is.EqualTo("w"), "the name is free again");
        Assert.Throws<ArgumentException>(() => m.Graph.CreateValue("x"), "names are unique");
        AssertConsistent(m.Graph);
    }

    [Test]
    public void ValuesOfAnotherGraphAreRefused()
    {
        var (m1, x1, _, _, _, _) = Sample();
        var (m2, _, relu2, _, _, _) = Sample();
        Assert.Throws<ArgumentException>(() => m2.Graph.SetInput(relu2, 0, x1));
        Assert.Throws<ArgumentException>(() => m2.Graph.AddNode("Relu", [x1], ["z"]));
        Assert.Throws<ArgumentException>(() => m2.Graph.RemoveNode(m1.Graph.Nodes[0]));
    }

    [TestCaseSource(typeof(TestPaths), nameof(TestPaths.SharedModelNames))]
    public void RealModelsImportConsistentAndSurviveDeadCodeElimination(string file)
    {
        var model = OnnxModel.Load(TestPaths.SharedModel(file));
        AssertConsistent(model.Graph);
        var outputs = model.Graph.Outputs.ToArray();
        model.Graph.EliminateDeadCode();
        model.Graph.TopologicalSort();
        AssertConsistent(model.Graph);
        Assert.That(model.Graph.Outputs, Is.EqualTo(outputs));
        AssertExportsValid(model);
    }
}
