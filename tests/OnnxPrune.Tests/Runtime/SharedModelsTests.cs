using NUnit.Framework;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Runtime;

/// <summary>Every real model in ../shared/onnx-models runs on random inputs and gives finite outputs of the declared shapes.</summary>
public class SharedModelsTests
{
    public static IEnumerable<string> Models() => OnnxPrune.Tests.TestPaths.SharedModelNames();

    [Test]
    public void Shared_model_folder_has_models()
    {
        Assert.That(Directory.GetFiles(OnnxPrune.Tests.TestPaths.SharedModels, "*.onnx"), Is.Not.Empty);
    }

    [TestCaseSource(nameof(Models))]
    public void Model_runs_with_random_inputs(string file)
    {
        var path = Path.Combine(OnnxPrune.Tests.TestPaths.SharedModels, file);
        Assert.That(File.Exists(path), Is.True, path);
        using var session = OrtSessions.Create(path, new SessionSettings { IntraOpThreads = 2, AllowSpinning = false });
        Assert.That(session.InputNames, Is.Not.Empty);

        // Dynamic batch -> 1; dynamic spatial dims of image inputs (e.g. PaddleOCR's H/W) -> 64, a multiple of 32.
        var dims = new Dictionary<string, long>();
        foreach (var (name, input) in session.InputMetadata)
            for (int axis = 0; axis < input.Dimensions.Length; axis++)
                if (input.Dimensions[axis] < 0)
                    dims[$"{name}:{axis}"] = input.Dimensions.Length == 4 && axis >= 2 ? 64 : 1;
        var inputs = RandomInputs.Create(session.InputMetadata, seed: 1234, dims);
        var outputs = session.RunTensors(inputs);

        Assert.That(outputs.Keys, Is.EqualTo(session.OutputNames));
        foreach (var declared in session.Outputs())
        {
            var actual = outputs[declared.Name];
            Assert.That(actual.ElementType, Is.EqualTo(declared.ElementType), declared.Name);
            Assert.That(actual.Rank, Is.EqualTo(declared.Shape.Length), $"{declared.Name}: {actual} vs {declared.TypeText}");
            for (int axis = 0; axis < actual.Rank; axis++)
            {
                if (declared.Shape[axis] >= 0) Assert.That(actual.Dims[axis], Is.EqualTo(declared.Shape[axis]), $"{declared.Name} axis {axis}");
                else Assert.That(actual.Dims[axis], Is.GreaterThan(0), $"{declared.Name} axis {axis}");
            }
            Assert.That(actual.ElementCount, Is.GreaterThan(0));
            if (ElementTypes.IsFloatingPoint(actual.ElementType))
                Assert.That(actual.ToFloatArray().All(float.IsFinite), Is.True, $"{declared.Name} has NaN/inf");
        }
    }
}
