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

    [Test]
    public void AFailureLateInThePlanLeavesTheModelByteForByteUnchanged()
    {
        // conv1's weights, bias and conv2's input columns are valid cuts; the last item (an attribute that would become
        // 1 − 2·5 < 0, and in the second case an element outside a shape constant) fails only after them.
        var t = TestModels.BuildTwoConvs([1, 2, 3, 4, 5, 6], [1, 2, 3], [1, 2, 3, 4, 5, 6], cin: 2, c1: 3, c2: 2);
        var conv1 = t.Conv1.Root;
        var before = t.Model.ToBytes();
        var badAttribute = t.Conv1 with { Items = [.. t.Conv1.Items, new AttributeItem { Owner = conv1, Name = "group", Factor = 5 }] };
        Assert.Throws<PruningConstraintException>(() => PruningSurgery.Apply(t.Model, [new KeepMask(badAttribute, [1])]));
        Assert.That(t.Model.ToBytes(), Is.EqualTo(before), "a rewrite that would leave a size ≤ 0");

        var shape = t.Model.Graph.AddInitializer("shape", Tensor.FromArray<long>([1, 3], 2)).Value;
        before = t.Model.ToBytes();
        var badElement = t.Conv1 with { Items = [.. t.Conv1.Items, new ShapeElementItem { Constant = shape, Index = 7, Owner = conv1 }] };
        Assert.Throws<ArgumentException>(() => PruningSurgery.Apply(t.Model, [new KeepMask(badElement, [1])]));
        Assert.That(t.Model.ToBytes(), Is.EqualTo(before), "an element outside its shape constant");

        var shrinking = t.Conv1 with { Items = [.. t.Conv1.Items, new ShapeElementItem { Constant = shape, Index = 0, Owner = conv1 }] };
        Assert.Throws<PruningConstraintException>(() => PruningSurgery.Apply(t.Model, [new KeepMask(shrinking, [1])]));
        Assert.That(t.Model.ToBytes(), Is.EqualTo(before), "a shape element that would become 1 − 2 < 0");

        // The same plan without the bad item goes through, so the failures above came from the last item alone.
        var result = PruningSurgery.Apply(t.Model, [new KeepMask(t.Conv1, [1])]);
        Assert.That(result.ConstantsSliced, Is.EqualTo(3));
        Assert.That(t.W1.Constant!.Shape[0], Is.EqualTo(1));
    }

    [Test]
    public void ACancelledSurgeryOrAnalysisEditsNothing()
    {
        var t = TestModels.BuildTwoConvs([1, 2, 3, 4, 5, 6], [1, 2, 3], [1, 2, 3, 4, 5, 6], cin: 2, c1: 3, c2: 2);
        var before = t.Model.ToBytes();
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => PruningSurgery.Apply(t.Model, [new KeepMask(t.Conv1, [1])], cancelled.Token));
        Assert.That(t.Model.ToBytes(), Is.EqualTo(before));
        Assert.Throws<OperationCanceledException>(() => DependencyAnalyzer.Analyze(t.Model, cancelled.Token));
        Assert.Throws<OperationCanceledException>(() => CostModel.Of(t.Model, null, cancelled.Token));
    }
}
