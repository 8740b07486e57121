using Google.Protobuf;
using OnnxPrune.Graph;
using OnnxPrune.Onnx;
using OnnxPrune.Onnx.Proto;
using OnnxPrune.Tensors;
using AttrType = OnnxPrune.Onnx.Proto.AttributeProto.Types.AttributeType;

namespace OnnxPrune.Tests.Graph;

/// <summary>ConstantTensor over initializers and every form of Constant node: decodes, edits export, untouched ones
/// export unchanged; typed attribute access.</summary>
public class ConstantTensorTests
{
    private static AttributeProto Attr(string name, Action<AttributeProto> set, AttrType type)
    {
        var a = new AttributeProto { Name = name, Type = type };
        set(a);
        return a;
    }

    // One Constant node per form, each feeding an Identity that is a graph output; plus one initializer.
    private static ModelProto ConstantForms()
    {
        var g = new GraphProto { Name = "constants" };
        var tensor = TestModels.FloatInitializer("", 2, 3);
        var forms = new (string Name, AttributeProto Attribute)[]
        {
            ("c_value", Attr("value", a => a.T = tensor, AttrType.Tensor)),
            ("c_float", Attr("value_float", a => a.F = 2.5f, AttrType.Float)),
            ("c_floats", Attr("value_floats", a => a.Floats.AddRange([1f, -2f, 3.5f]), AttrType.Floats)),
            ("c_int", Attr("value_int", a => a.I = -7, AttrType.Int)),
            ("c_ints", Attr("value_ints", a => a.Ints.AddRange([4L, 5L, 1L << 40]), AttrType.Ints)),
        };
        foreach (var (name, attribute) in forms)
        {
            var n = TestModels.Node("Constant", [], [name], name);
            n.Attribute.Add(attribute);
            g.Node.Add(n);
            g.Node.Add(TestModels.Node("Identity", [name], [name + "_out"]));
            g.Output.Add(new ValueInfoProto { Name = name + "_out" });
        }
        var init = TestModels.FloatInitializer("init", 4);
        init.DocString = "documented";
        g.Initializer.Add(init);
        g.Node.Add(TestModels.Node("Identity", ["init"], ["init_out"]));
        g.Output.Add(new ValueInfoProto { Name = "init_out" });
        return TestModels.Wrap(g);
    }

    private static OnnxModel Load(ModelProto proto) => OnnxModel.FromProto(ModelIO.Load(proto.ToByteArray()));

    [Test]
    public void EveryFormDecodes()
    {
        var model = Load(ConstantForms());
        var constants = model.Graph.Constants.ToDictionary(c => c.Name);
        Assert.That(constants.Keys, Is.EquivalentTo(new[] { "init", "c_value", "c_float", "c_floats", "c_int", "c_ints" }));
        Assert.That(constants["init"].Kind, Is.EqualTo(ConstantKind.Initializer));
        Assert.That(constants["c_value"].Kind, Is.EqualTo(ConstantKind.ConstantNode));
        Assert.That(constants["c_value"].Node!.OpType, Is.EqualTo("Constant"));

        // Header without decoding, then the data.
        Assert.That(constants["c_value"].Shape, Is.EqualTo(new long[] { 2, 3 }));
        Assert.That(constants["c_value"].Data.AsSpan<float>().ToArray(), Is.EqualTo(new float[] { 0, 1, 2, 3, 4, 5 }));
        Assert.That(constants["c_float"].ElementType, Is.EqualTo(ElementType.Float));
        Assert.That(constants["c_float"].Shape, Is.Empty, "value_float is a scalar");
        Assert.That(constants["c_float"].Data.AsSpan<float>().ToArray(), Is.EqualTo(new[] { 2.5f }));
        Assert.That(constants["c_floats"].Shape, Is.EqualTo(new long[] { 3 }));
        Assert.That(constants["c_floats"].Data.AsSpan<float>().ToArray(), Is.EqualTo(new[] { 1f, -2f, 3.5f }));
        Assert.That(constants["c_int"].ElementType, Is.EqualTo(ElementType.Int64));
        Assert.That(constants["c_int"].Data.AsSpan<long>().ToArray(), Is.EqualTo(new[] { -7L }));
        Assert.That(constants["c_ints"].Data.AsSpan<long>().ToArray(), Is.EqualTo(new[] { 4L, 5L, 1L << 40 }));
        Assert.That(constants["init"].Data.AsSpan<float>().ToArray(), Is.EqualTo(new float[] { 0, 1, 2, 3 }));
        Assert.That(model.Graph.GetValue("c_ints").Constant, Is.SameAs(constants["c_ints"]));
    }

    [Test]
    public void DecodingAloneChangesNothing()
    {
        var proto = ModelIO.Load(ConstantForms().ToByteArray());
        var model = OnnxModel.FromProto(proto);
        foreach (var c in model.Graph.Constants) _ = c.Data;
        Assert.That(model.ToProto(), Is.EqualTo(proto));
    }

    [Test]
    public void InPlaceEditsOfConstantNodesAreExported()
    {
        var model = Load(ConstantForms());
        var floats = model.Graph.GetValue("c_floats").Constant!;
        floats.Data.AsSpan<float>()[1] = 42f;
        var ints = model.Graph.GetValue("c_int").Constant!;
        ints.Data.AsSpan<long>()[0] = 9;
        var value = model.Graph.GetValue("c_value").Constant!;
        value.Data.AsSpan<float>()[5] = -1f;

        var exported = model.ToProto();
        var nodes = exported.Graph.Node.Where(n => n.OpType == "Constant").ToDictionary(n => n.Output[0]);
        Assert.That(nodes["c_floats"].Attribute.Select(a => a.Name), Is.EqualTo(new[] { "value" }), "value_floats replaced by value");
        Assert.That(TensorProtoConverter.ToTensor(nodes["c_floats"].Attribute[0].T).AsSpan<float>().ToArray(), Is.EqualTo(new[] { 1f, 42f, 3.5f }));
        Assert.That(TensorProtoConverter.ToTensor(nodes["c_int"].Attribute.Single(a => a.Name == "value").T).AsSpan<long>().ToArray(), Is.EqualTo(new[] { 9L }));
        Assert.That(TensorProtoConverter.ToTensor(nodes["c_value"].Attribute[0].T).AsSpan<float>()[5], Is.EqualTo(-1f));
        Assert.That(nodes["c_float"], Is.EqualTo(ConstantForms().Graph.Node.First(n => n.Output[0] == "c_float")), "untouched nodes stay as they were");

        var again = Load(exported).Graph.Constants.ToDictionary(c => c.Name);
        Assert.That(again["c_floats"].Data.AsSpan<float>().ToArray(), Is.EqualTo(new[] { 1f, 42f, 3.5f }));
        Assert.That(again["c_int"].Data.AsSpan<long>().ToArray(), Is.EqualTo(new[] { 9L }));
    }

    [Test]
    public void AssigningDataRewritesTheConstantAndItsDeclaredType()
    {
        var model = Load(ConstantForms());
        var c = model.Graph.GetValue("c_float").Constant!;
        c.Data = Tensor.FromArray<double>([1, 2, 3, 4], 2, 2);
        Assert.That(c.ElementType, Is.EqualTo(ElementType.Double));
        Assert.That(model.Graph.GetValue("c_float").Shape, Is.EqualTo(new Dim[] { 2, 2 }));
        var node = model.ToProto().Graph.Node.First(n => n.Output[0] == "c_float");
        Assert.That(node.Attribute.Select(a => a.Name), Is.EqualTo(new[] { "value" }));
        Assert.That(node.Attribute[0].T.DataType, Is.EqualTo((int)ElementType.Double));
        Assert.That(node.Attribute[0].T.Dims, Is.EqualTo(new long[] { 2, 2 }));
    }

    [Test]
    public void InitializerEditsAreExportedWithDocString()
    {
        var proto = ModelIO.Load(ConstantForms().ToByteArray());
        var model = OnnxModel.FromProto(proto);
        var init = model.Graph.GetValue("init").Constant!;
        init.Data.AsSpan<float>()[0] = 10f;
        var exported = model.ToProto().Graph.Initializer.Single();
        Assert.That(TensorProtoConverter.ToTensor(exported).AsSpan<float>().ToArray(), Is.EqualTo(new float[] { 10, 1, 2, 3 }));
        Assert.That(exported.DocString, Is.EqualTo("documented"));
        Assert.That(proto.Graph.Initializer[0].RawData.Span[0], Is.Zero, "the imported message is not modified");

        init.Data = Tensor.FromArray<float>([7f, 8f], 2);
        exported = model.ToProto().Graph.Initializer.Single();
        Assert.That(exported.Dims, Is.EqualTo(new long[] { 2 }));
        Assert.That(exported.DocString, Is.EqualTo("documented"));
        Assert.That(TensorProtoConverter.ToTensor(exported).AsSpan<float>().ToArray(), Is.EqualTo(new[] { 7f, 8f }));
        // Exports are snapshots: a later edit does not reach an earlier exported message.
        init.Data.AsSpan<float>()[0] = 0f;
        Assert.That(TensorProtoConverter.ToTensor(exported).AsSpan<float>()[0], Is.EqualTo(7f));
    }

    [Test]
    public void TypedFieldInitializersStayTypedUntilEdited()
    {
        var m = ConstantForms();
        var init = m.Graph.Initializer[0];
        init.ClearRawData();
        init.FloatData.AddRange([0f, 1f, 2f, 3f]);
        var proto = ModelIO.Load(m.ToByteArray());
        var model = OnnxModel.FromProto(proto);
        _ = model.Graph.GetValue("init").Constant!.Data;
        Assert.That(model.ToProto(), Is.EqualTo(proto), "decoded but unchanged: exported as imported (float_data)");
        model.Graph.GetValue("init").Constant!.Data.AsSpan<float>()[3] = 30f;
        var exported = model.ToProto().Graph.Initializer[0];
        Assert.That(exported.HasRawData, Is.True);
        Assert.That(exported.FloatData, Is.Empty);
        Assert.That(TensorProtoConverter.ToTensor(exported).AsSpan<float>().ToArray(), Is.EqualTo(new float[] { 0, 1, 2, 30 }));
    }

    [Test]
    public void BuiltInitializersExportTheirData()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 3);
        var w = b.Initializer("w", [1f, 2f, 3f], 3);
        b.Output(b.Add(x, w), ElementType.Float, 3);
        var model = b.Build();
        w.Constant!.Data.AsSpan<float>()[2] = 5f;
        var exported = model.ToProto().Graph.Initializer.Single();
        Assert.That(exported.Name, Is.EqualTo("w"));
        Assert.That(TensorProtoConverter.ToTensor(exported).AsSpan<float>().ToArray(), Is.EqualTo(new[] { 1f, 2f, 5f }));
        var reloaded = OnnxModel.FromBytes(model.ToBytes());
        Assert.That(reloaded.Graph.GetValue("w").Constant!.Data.AsSpan<float>().ToArray(), Is.EqualTo(new[] { 1f, 2f, 5f }));
    }

    [Test]
    public void WrongAttributeTypeNamesNodeAndAttribute()
    {
        var m = ConstantForms();
        // value_float declared as INTS: decoding the constant must say which node and attribute is wrong.
        var node = m.Graph.Node.First(n => n.Output[0] == "c_float");
        node.Attribute[0].Type = AttrType.Ints;
        var model = Load(m);
        var c = model.Graph.GetValue("c_float").Constant!;
        var e = Assert.Throws<OnnxFormatException>(() => _ = c.Data);
        Assert.That(e!.Message.ToUpperInvariant(), Does.Contain("C_FLOAT").And.Contain("'VALUE_FLOAT'").And.Contain("INTS").And.Contain("EXPECTED FLOAT"));

        var relu = Load(TestModels.AddRelu()).Graph.Nodes[1];
        relu.Attributes.Set("alpha", 0.5f);
        relu.Attributes.Set("axes", new long[] { 1, 2 });
        relu.Attributes.Set("mode", "linear");
        Assert.That(relu.Attributes.GetFloat("alpha", 0), Is.EqualTo(0.5f));
        Assert.That(relu.Attributes.GetInts("axes"), Is.EqualTo(new long[] { 1, 2 }));
        Assert.That(relu.Attributes.GetString("mode"), Is.EqualTo("linear"));
        Assert.That(relu.Attributes.GetInt("missing", 3), Is.EqualTo(3));
        foreach (var (name, get) in new (string, Action)[]
                 {
                     ("alpha", () => relu.Attributes.GetInt("alpha", 0)),
                     ("axes", () => relu.Attributes.GetFloats("axes")),
                     ("mode", () => relu.Attributes.GetTensor("mode")),
                 })
        {
            var ex = Assert.Throws<OnnxFormatException>(() => get());
            Assert.That(ex!.Message, Does.Contain(relu.DisplayName).And.Contain($"'{name}'"));
        }
    }

    [Test]
    public void UntypedIrVersion1AttributesAreInferred()
    {
        var m = TestModels.AddRelu();
        m.Graph.Node[1].Attribute.Add(new AttributeProto { Name = "alpha", F = 0.25f });
        m.Graph.Node[1].Attribute.Add(new AttributeProto { Name = "axes", Ints = { 3, 4 } });
        var relu = Load(m).Graph.Nodes[1];
        Assert.That(relu.Attributes.GetFloat("alpha", 0), Is.EqualTo(0.25f));
        Assert.That(relu.Attributes.GetInts("axes"), Is.EqualTo(new long[] { 3, 4 }));
        Assert.Throws<OnnxFormatException>(() => relu.Attributes.GetInt("alpha", 0));
    }
}
