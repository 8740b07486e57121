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
