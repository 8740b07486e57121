using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Pruning;

/// <summary>Surgery details: IR-3 initializer inputs, value_info, fp16 constants, masks that keep everything.</summary>
public class SurgeryTests
{
    [Test]
    public void Ir3InitializerInputsAndValueInfoFollowTheSlicedTensors()
    {
        var model = OnnxModel.Load(TestPaths.SharedModel("resnet20_cifar10_sclbl.onnx"));
        Assert.That(model.IrVersion, Is.EqualTo(3));
        var analysis = DependencyAnalyzer.Analyze(model);
        var g = analysis.Prunable.First(x => x.Kind == GroupKind.Channels);
        var mask = new KeepMask(g, Enumerable.Range(0, (int)g.Size / 2).Select(i => (long)i).ToArray());
        PruningSurgery.Apply(model, [mask]);
        var proto = model.ToProto().Graph;
        foreach (var item in g.ConstantSlices)
        {
            var declared = proto.Input.Single(i => i.Name == item.Value!.Name).Type.TensorType.Shape.Dim.Select(d => d.DimValue).ToArray();
            Assert.That(declared, Is.EqualTo(item.Value!.Constant!.Shape), item.Value.Name);
            Assert.That(declared[item.Axis], Is.EqualTo(g.Size / 2 * item.Map.PositionsPerUnit));
        }
        foreach (var item in g.Items.OfType<ValueDimItem>())
        {
            var vi = proto.ValueInfo.Single(v => v.Name == item.Value.Name);
            Assert.That(vi.Type.TensorType.Shape.Dim[item.Axis].DimValue, Is.EqualTo(g.Size / 2));
        }
        Assert.That(g.Items.Count(i => i.Kind == GroupItemKind.ValueDim), Is.GreaterThan(0), "resnet20 declares its activations");
    }

    [Test]
    public void KeepAllMasksChangeNothing()
    {
        var model = OnnxModel.Load(TestPaths.SharedModel("squeezenet_fp16_winml.onnx"));
        var before = model.ToBytes();
        var analysis = DependencyAnalyzer.Analyze(model);
        var result = PruningSurgery.Apply(model, analysis.Prunable.Select(KeepMask.All).ToArray());
        Assert.That(result.UnitsRemoved, Is.Zero);
        Assert.That(model.ToBytes(), Is.EqualTo(before));
    }

    [Test]
    public void Fp16ConstantsAreSlicedBitExactly()
    {
        var model = OnnxModel.Load(TestPaths.SharedModel("squeezenet_fp16_winml.onnx"));
        var g = DependencyAnalyzer.Analyze(model).Prunable.First();
        var w = g.ConstantSlices.First(i => i.Axis == 0 && i.Value!.Constant!.Shape.Count == 4).Value!;
        var original = w.Constant!.Data.AsSpan<Half>().ToArray();
        long perChannel = original.Length / w.Constant.Shape[0];
        PruningSurgery.Apply(model, [new KeepMask(g, [1, 5])]);
        Assert.That(w.Constant.ElementType, Is.EqualTo(ElementType.Float16));
        var sliced = w.Constant.Data.AsSpan<Half>().ToArray();
        Assert.That(sliced, Is.EqualTo(original.Skip((int)perChannel).Take((int)perChannel).Concat(original.Skip(5 * (int)perChannel).Take((int)perChannel)).ToArray()));
    }

    [Test]
    public void ShapeInferenceCanFillTheGraph()
    {
        var model = OnnxModel.Load(TestPaths.SharedModel("resnet32_cifar_opencimtc.onnx"));
        var info = ShapeInference.Infer(model.Graph, model.GetOpset(""));
        int filled = info.WriteTo(model.Graph);
        Assert.That(filled, Is.GreaterThan(100));
        var relu = model.Graph.Nodes.First(n => n.OpType == "Relu").Output(0)!;
        Assert.That(Dim.Format(relu.Shape), Is.EqualTo("[1,16,32,32]"));
        OnnxChecker.Check(model.ToBytes());
    }
}
