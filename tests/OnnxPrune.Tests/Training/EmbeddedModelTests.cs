using OnnxPrune.Graph;
using OnnxPrune.Tensors;
using OnnxPrune.Training;

namespace OnnxPrune.Tests.Training;

/// <summary>The embedded default models in onnx-models/: whole-model gradient checks (every op they use, together).</summary>
public class EmbeddedModelTests
{
    private static string ModelPath(string name)
    {
        var path = Path.Combine(TestPaths.RepoRoot, "onnx-models", name);
        if (!File.Exists(path)) Assert.Fail($"{path} is missing.");
        return path;
    }

    /// <summary>The model with its image input replaced by a fixed random image initializer, so GradientCheck can drive it.</summary>
    private static OnnxModel WithFixedImage(string name, int seed)
    {
        var model = OnnxModel.Load(ModelPath(name));
        var g = model.Graph;
        var input = g.DataInputs.Single();
        var r = new Random(seed);
        var pixels = Enumerable.Range(0, 28 * 28).Select(_ => r.NextSingle()).ToArray();
        var image = g.AddInitializer("fixed_image", Tensor.FromArray<float>(pixels, 1, 1, 28, 28)).Value;
        g.ReplaceAllUses(input, image);
        g.RemoveInput(input);
        return model;
    }

    // Relu kinks make large steps unreliable in the ResNet; the smooth ViT takes a larger one.
    [TestCase("fmnist-resnet.onnx", 1e-3f, new[] { "stem.weight", "layer2.conv1.weight", "layer3.downsample.bn.weight", "fc.weight" })]
    [TestCase("fmnist-vit.onnx", 1e-2f, new[] { "cls_token", "pos_embed", "blocks.0.attn.q.weight", "blocks.3.mlp.fc1.bias", "norm.weight", "head.weight" })]
    public void GradientsOfTheWholeModelMatchFiniteDifferences(string name, float h, string[] tensors)
    {
        var model = WithFixedImage(name, seed: 3);
        var set = tensors.ToHashSet();
        var checkedParams = GradientCheck.Check(model, h: h, samplesPerTensor: 4, options: new GradientBuilderOptions { IsTrainable = c => set.Contains(c.Name) });
        Assert.That(checkedParams.Select(p => p.Name), Is.EquivalentTo(tensors));
    }
}
