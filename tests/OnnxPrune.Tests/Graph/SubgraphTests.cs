using Google.Protobuf;
using OnnxPrune.Graph;
using OnnxPrune.Onnx;
using OnnxPrune.Onnx.Proto;
using OnnxPrune.Tensors;
using AttrType = OnnxPrune.Onnx.Proto.AttributeProto.Types.AttributeType;

namespace OnnxPrune.Tests.Graph;

/// <summary>If/Loop/Scan subgraphs stay untouched; the outer values they read are consumers of their node, so
/// edits and dead-code elimination respect them.</summary>
public class SubgraphTests
{
    [TestCase("test_if")]
    [TestCase("test_loop11")]
    [TestCase("test_scan9_sum")]
    [TestCase("test_range_float_type_positive_delta_expanded")]
    [TestCase("test_sequence_map_add_2_sequences_expanded")]
    public void OnnxTestModelsKeepTheirSubgraphs(string name)
    {
        var path = Path.Combine(TestPaths.OnnxTestData, "node", name, "model.onnx");
        var proto = ModelIO.Load(path);
        var model = OnnxModel.FromProto(proto);
        var withSubgraphs = model.Graph.Nodes.Where(n => n.HasSubgraphs).ToArray();
        Assert.That(withSubgraphs, Is.Not.Empty);
        model.Graph.EliminateDeadCode();
        model.Graph.TopologicalSort();
        GraphEditTests.AssertConsistent(model.Graph);
        var exported = model.ToProto();
        Assert.That(exported, Is.EqualTo(proto), "nothing here is dead; export reproduces the model, subgraphs included");
        var original = proto.Graph.Node.Where(n => n.Attribute.Any(a => a.G is not null)).ToArray();
        var after = exported.Graph.Node.Where(n => n.Attribute.Any(a => a.G is not null)).ToArray();
        Assert.That(after.Select(n => n.Attribute), Is.EqualTo(original.Select(n => n.Attribute)));
    }

    [Test]
    public void OuterValuesReadBySubgraphsAreImplicitInputs()
    {
        // From the model itself (python onnx lists the Loop's inputs as [trip count, cond, 'start'] and its body
        // reads 'delta' from the main graph).
        var model = OnnxModel.Load(Path.Combine(TestPaths.OnnxTestData, "node", "test_range_float_type_positive_delta_expanded", "model.onnx"));
        var loop = model.Graph.Nodes.Single(n => n.OpType == "Loop");
        var delta = model.Graph.GetValue("delta");
        Assert.That(loop.ImplicitInputs, Is.EqualTo(new[] { delta }));
        Assert.That(delta.Consumers, Does.Contain(loop));
        Assert.That(loop.Inputs.Select(v => v?.Name), Does.Not.Contain("delta"));
    }

    // x → Relu → r; If(cond) { then: Identity(r); else: Loop-free branch Neg(r) }; only the If's output is a
    // graph output, so r is read only inside the subgraphs.
    private static ModelProto IfReadingOuterValue(bool nested = false)
    {
        var g = new GraphProto { Name = "main" };
        g.Input.Add(TestModels.Declare("x", ElementType.Float, 4));
        g.Input.Add(TestModels.Declare("cond", ElementType.Bool));
        var then = new GraphProto { Name = "then" };
        then.Node.Add(TestModels.Node("Identity", ["r"], ["t"]));
        then.Output.Add(TestModels.Declare("t", ElementType.Float, 4));
        var otherwise = new GraphProto { Name = "else" };
        otherwise.Node.Add(TestModels.Node("Neg", ["r"], ["e"]));
        otherwise.Output.Add(TestModels.Declare("e", ElementType.Float, 4));
        if (nested)
        {
            // The else branch wraps another If whose branches read r: two scopes up.
            var inner = new NodeProto { OpType = "If", Name = "inner_if", Input = { "cond" }, Output = { "e" } };
            inner.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttrType.Graph, G = then.Clone() });
            var deep = new GraphProto { Name = "deep" };
            deep.Node.Add(TestModels.Node("Abs", ["r"], ["d"]));
            deep.Output.Add(TestModels.Declare("d", ElementType.Float, 4));
            inner.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttrType.Graph, G = deep });
            otherwise = new GraphProto { Name = "else", Node = { inner } };
            otherwise.Output.Add(TestModels.Declare("e", ElementType.Float, 4));
        }
        var iff = new NodeProto { OpType = "If", Name = "if", Input = { "cond" }, Output = { "z" } };
        iff.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttrType.Graph, G = then });
        iff.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttrType.Graph, G = otherwise });
        // The If comes first in the file: a valid order needs the Relu moved before it.
        g.Node.Add(iff);
        g.Node.Add(TestModels.Node("Relu", ["x"], ["r"], "relu"));
        g.Node.Add(TestModels.Node("Sigmoid", ["x"], ["dead"], "dead"));
        g.Output.Add(TestModels.Declare("z", ElementType.Float, 4));
        return TestModels.Wrap(g, opset: 16);
    }

    [TestCase(false)]
    [TestCase(true)]
    public void DeadCodeEliminationKeepsValuesUsedOnlyInSubgraphs(bool nested)
    {
        var proto = IfReadingOuterValue(nested);
        var model = OnnxModel.FromProto(ModelIO.Load(proto.ToByteArray()));
        var iff = model.Graph.FindNode("if")!;
        var r = model.Graph.GetValue("r");
        // The nested branch's inner If also reads cond from the main graph, two scopes up.
        var cond = model.Graph.GetValue("cond");
        Assert.That(iff.ImplicitInputs, Is.EqualTo(nested ? new[] { cond, r } : new[] { r }));
        Assert.That(r.Consumers, Is.EqualTo(new[] { iff }));

        Assert.That(model.Graph.EliminateDeadCode(), Is.EqualTo(1), "only the Sigmoid is dead");
        Assert.That(model.Graph.FindNode("relu"), Is.Not.Null);
        Assert.Throws<InvalidOperationException>(() => model.Graph.RemoveNode(model.Graph.FindNode("relu")!));
        Assert.Throws<UnsupportedModelException>(() => model.Graph.ReplaceAllUses(r, model.Graph.GetValue("x")),
            "a subgraph reads r by name; rewriting it silently would break the model");

        model.Graph.TopologicalSort();
        Assert.That(model.Graph.Nodes.Select(n => n.Name), Is.EqualTo(new[] { "relu", "if" }), "implicit inputs order the nodes too");
        GraphEditTests.AssertConsistent(model.Graph);
        var exported = model.ToProto();
        Assert.DoesNotThrow(() => ModelValidator.Validate(exported, "sorted"));
        var iffProto = exported.Graph.Node.Single(n => n.Name == "if");
        Assert.That(iffProto.Attribute, Is.EqualTo(proto.Graph.Node.Single(n => n.Name == "if").Attribute), "subgraphs untouched");
    }

    [Test]
    public void ValidatorAcceptsNestedOuterReferencesAndRefusesUndefinedOnes()
    {
        Assert.DoesNotThrow(() => ModelValidator.Validate(IfReadingOuterValue(nested: true), "nested"));
        var broken = IfReadingOuterValue(nested: true);
        var deep = broken.Graph.Node[0].Attribute[1].G.Node[0].Attribute[1].G;
        deep.Node[0].Input[0] = "nowhere";
        var e = Assert.Throws<OnnxFormatException>(() => ModelValidator.Validate(broken, "broken.onnx"));
        Assert.That(e!.Message, Does.Contain("broken.onnx").And.Contain("'nowhere'").And.Contain("deep"));
    }

    [Test]
    public void SubgraphNamesDoNotLeakOutward()
    {
        // The then-branch defines t; a main-graph node reading t is reading an undefined value.
        var m = IfReadingOuterValue();
        m.Graph.Node.Add(TestModels.Node("Abs", ["t"], ["u"], "reads_inner"));
        var e = Assert.Throws<OnnxFormatException>(() => ModelValidator.Validate(m, "leak.onnx"));
        Assert.That(e!.Message, Does.Contain("'t'").And.Contain("reads_inner"));
    }
}
