using Microsoft.ML.OnnxRuntime;
using NUnit.Framework;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Runtime;

public class RandomInputsTests
{
    // Metadata as ONNX Runtime reports it for an input image: float[batch,3,h,w].
    private static readonly IReadOnlyDictionary<string, NodeMetadata> Image = ImageMetadata();

    private static IReadOnlyDictionary<string, NodeMetadata> ImageMetadata()
    {
        var model = TestModels.Model([TestModels.Node("Identity", ["image"], ["y"])],
            [TestModels.Value("image", ElementType.Float, "batch", 3, "h", "w")], [TestModels.Value("y", ElementType.Float, "batch", 3, "h", "w")]);
        using var session = OrtSessions.Create(model);
        return session.InputMetadata;
    }

    [Test]
    public void Dims_resolve_by_axis_then_symbol_then_default()
    {
        var dims = RandomInputs.ParseDims(["batch=2", "h=32", "image:3=48"]);
        Assert.That(RandomInputs.ResolveShapes(Image, dims)["image"], Is.EqualTo(new long[] { 2, 3, 32, 48 }));
        Assert.That(RandomInputs.ResolveShapes(Image)["image"], Is.EqualTo(new long[] { 1, 3, 1, 1 }));
    }

    // A GPT-2-style cache: the attention mask's length is named by arithmetic over two other dims (as torch.onnx writes it).
    private static byte[] TiedDimsModel() => TestModels.Model(
        [TestModels.Node("Concat", ["past", "new"], ["all"]), TestModels.Node("Add", ["all", "mask"], ["y"])],
        [TestModels.Value("past", ElementType.Float, "batch", "past_sequence_length"), TestModels.Value("new", ElementType.Float, "batch", "sequence_length"),
         TestModels.Value("mask", ElementType.Float, "batch", "past_sequence_length + sequence_length")],
        [TestModels.Value("y", ElementType.Float, "batch", "total")]);

    [Test]
    public void Tied_dims_named_by_arithmetic_agree_and_defaults_are_reported()
    {
        var bytes = TiedDimsModel();
        var model = OnnxPrune.Graph.OnnxModel.FromBytes(bytes, "tied");
        model.Graph.Nodes.Single(n => n.OpType == "Concat").Attributes.Set("axis", 1L);
        using var session = OrtSessions.Create(model);
        var given = RandomInputs.Resolve(session.InputMetadata, RandomInputs.ParseDims(["past_sequence_length=3", "sequence_length=2", "batch=2"]));
        Assert.That(given.Shapes["mask"], Is.EqualTo(new long[] { 2, 5 }));
        Assert.That(given.Defaulted, Is.Empty);

        var defaults = RandomInputs.Resolve(session.InputMetadata);
        Assert.That(defaults.Shapes["mask"], Is.EqualTo(new long[] { 1, 2 }), "1 + 1, not an independent 1");
        Assert.That(defaults.Defaulted, Is.EquivalentTo(new[] { "batch (past:0)", "past_sequence_length (past:1)", "sequence_length (new:1)" }));
        // The generated inputs run (before, the mask was [1, 1] against [1, 2]: a broadcast error from ONNX Runtime).
        var outputs = session.RunTensors(RandomInputs.Create(session.InputMetadata, 1, RandomInputs.ParseDims(["past_sequence_length=4"])));
        Assert.That(outputs["y"].Shape, Is.EqualTo(new long[] { 1, 5 }));
    }

    [Test]
    public void Same_seed_same_data_and_values_in_range()
    {
        var a = RandomInputs.Create(Image, 3, RandomInputs.ParseDims(["h=4", "w=4"]))["image"];
        var b = RandomInputs.Create(Image, 3, RandomInputs.ParseDims(["h=4", "w=4"]))["image"];
        var c = RandomInputs.Create(Image, 4, RandomInputs.ParseDims(["h=4", "w=4"]))["image"];
        Assert.That(a.RawData, Is.EqualTo(b.RawData));
        Assert.That(a.RawData, Is.Not.EqualTo(c.RawData));
        Assert.That(a.AsSpan<float>().ToArray(), Is.All.InRange(-1f, 1f));
    }

    [TestCase("batch")]
    [TestCase("batch=-1")]
    [TestCase("=3")]
    public void Bad_dim_specs_are_rejected(string spec)
    {
        Assert.Throws<ArgumentException>(() => RandomInputs.ParseDims([spec]));
    }
}
