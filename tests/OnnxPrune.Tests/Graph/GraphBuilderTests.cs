using System.Text.Json;
using OnnxPrune.Graph;
using OnnxPrune.Onnx;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Graph;

/// <summary>GraphBuilder builds models that ONNX's own checker accepts.</summary>
public class GraphBuilderTests
{
    [Test]
    public void SmallCnnPassesTheOnnxChecker()
    {
        var model = TestModels.SmallCnn();
        GraphEditTests.AssertConsistent(model.Graph);
        var dir = TestPaths.TempDir();
        try
        {
            var path = Path.Combine(dir, "cnn.onnx");
            model.Save(path);
            var py = Processes.RunPython("check_model.py", path);
            Assert.That(py.ExitCode, Is.Zero, py.ToString());
            using var json = JsonDocument.Parse(py.StdOut);
            // What TestModels.SmallCnn adds, in order.
            Assert.That(json.RootElement.GetProperty("ops").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[]
            {
                "Conv", "BatchNormalization", "Relu", "Conv", "Relu", "GlobalAveragePool", "Flatten", "Gemm", "Softmax",
            }));
            Assert.That(json.RootElement.GetProperty("initializers").GetInt32(), Is.EqualTo(9), "conv1 w+b, four BN tensors, conv2 w, fc w+b");
            Assert.That(json.RootElement.GetProperty("opset").EnumerateArray().Select(e => e.GetInt64()), Is.EqualTo(new[] { 17L }));

            // And it reloads equal in our IR.
            Messages.AssertEqual(model.ToProto(), OnnxModel.Load(path).ToProto(), "saved, reloaded into the IR and exported");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Test]
    public void ConstantNodesAndReshapeBuildValidModels()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, "N", 2, 3);
        var k = b.ConstantNode(Tensor.FromArray<float>([1, 2, 3, 4, 5, 6], 2, 3), "k");
        var y = b.Reshape(b.Mul(x, k), -1, 6);
        var t = b.Transpose(y, 1, 0);
        b.Output(t, ElementType.Float, 6, "N");
        var model = b.Build();
        Assert.That(model.Graph.Constants.Select(c => c.Kind), Is.EquivalentTo(new[] { ConstantKind.ConstantNode, ConstantKind.Initializer }));
        var dir = TestPaths.TempDir();
        try
        {
            var path = Path.Combine(dir, "m.onnx");
            model.Save(path);
            var py = Processes.RunPython("check_model.py", path);
            Assert.That(py.ExitCode, Is.Zero, py.ToString());
            Messages.AssertEqual(model.ToProto(), ModelIO.Load(path), "saved and reloaded");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
