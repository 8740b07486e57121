using OnnxPrune.Analysis;
using OnnxPrune.Graph;

namespace OnnxPrune.Tests.Graph;

/// <summary>Every real model loads into the IR, round-trips through it unchanged, and has the documented parameter count.</summary>
public class SharedModelTests
{
    // Expected counts: from the issue, read independently with the onnx Python package.
    private static readonly Dictionary<string, long> ExpectedParameters = new()
    {
        ["resnet32_cifar_opencimtc.onnx"] = 469360,
        ["resnet20_cifar10_sclbl.onnx"] = 271690,
        ["ppocr_cls_mbv3small.onnx"] = 133700,
        ["ppocrv3_det.onnx"] = 592729,
        ["squeezenet_fp16_winml.onnx"] = 1235496,
        ["yolox_nano.onnx"] = 904467,
        ["xfeat_256.onnx"] = 659284,
    };

    [TestCaseSource(typeof(TestPaths), nameof(TestPaths.SharedModelNames))]
    public void LoadsAndRoundTripsThroughTheIR(string file)
    {
        var proto = OnnxPrune.Onnx.ModelIO.Load(TestPaths.SharedModel(file));
        var model = OnnxModel.FromProto(proto);
        Assert.That(model.Graph.Nodes, Is.Not.Empty);
        Assert.That(model.ToProto(), Is.EqualTo(proto), "IR import → export must reproduce the message exactly");
    }

    [TestCaseSource(nameof(ExpectedCases))]
    public void ParameterCountMatches(string file, long expected)
    {
        var summary = ModelSummary.Of(OnnxModel.Load(TestPaths.SharedModel(file)));
        Assert.That(summary.Parameters, Is.EqualTo(expected));
    }

    private static IEnumerable<TestCaseData> ExpectedCases() =>
        ExpectedParameters.Select(p => new TestCaseData(p.Key, p.Value));
}
