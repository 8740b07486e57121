using OnnxPrune.Export;
using OnnxPrune.Graph;
using OnnxPrune.Graph.Passes;
using OnnxPrune.Tensors;
using OnnxPrune.Tests.Pruning;

namespace OnnxPrune.Tests.Export;

/// <summary>The export passes on every real model in ../shared/onnx-models: the exact ones keep the outputs (1e-5
/// relative), the lossy ones give models that onnx.checker accepts and ONNX Runtime runs with finite outputs.</summary>
public class SharedModelExportTests
{
    public static IEnumerable<string> Models() => TestPaths.SharedModelNames();

    private static OnnxModel Load(string file) => OnnxModel.Load(Path.Combine(TestPaths.SharedModels, file));

    [TestCaseSource(nameof(Models))]
    public void Opset_17_upgrades_older_models_and_keeps_the_outputs(string file)
    {
        var original = Load(file);
        var model = Load(file);
        long before = model.GetOpset("");
        var bytes = model.ToBytes();
        PassResult result;
        try { result = new SetOpsetPass(17).Run(model); }
        catch (UnsupportedModelException e)
        {
            // Refused only for the documented reasons (a Softmax of rank > 2 over symbolic dims before opset 13, a
            // BatchNormalization that ONNX Runtime runs with batch statistics), naming the node, with the model unchanged.
            TestContext.Out.WriteLine($"{file}: refused: {e.Message}");
            Assert.That(e.Message, Does.Contain("Softmax").Or.Contain("BatchNormalization"));
            Assert.That(e.Message, Does.Contain("node").IgnoreCase);
            Assert.That(before, Is.LessThan(16));
            Assert.That(model.ToBytes(), Is.EqualTo(bytes));
            return;
        }
        Assert.That(model.GetOpset(""), Is.EqualTo(17));
        if (before == 17) Assert.That(result.Changes, Is.Zero); else Assert.That(result.Changes, Is.Positive);
        // Outputs by position: an opset < 13 Softmax graph output is renamed NAME_restored (documented).
        Assert.That(model.Graph.Outputs.Count, Is.EqualTo(original.Graph.Outputs.Count));
        double worst = WorstRelativeByPosition(original, model);
        TestContext.Out.WriteLine($"{file}: opset {before} → 17, {string.Join("; ", result.Notes)}; worst rel {worst:G3}");
        Assert.That(worst, Is.LessThan(1e-5));
    }

    [Test]
    public void Opset_downgrades_and_targets_past_17_are_refused_before_any_edit()
    {
        var model = Load("resnet20_cifar10_sclbl.onnx");
        long opset = model.GetOpset("");
        var bytes = model.ToBytes();
        Assert.Throws<UnsupportedModelException>(() => new SetOpsetPass((int)opset - 1).Run(model));
        var e = Assert.Throws<UnsupportedModelException>(() => new SetOpsetPass(18).Run(model))!;
        Assert.That(e.Message, Does.Contain("18"));
        Assert.That(model.ToBytes(), Is.EqualTo(bytes), "a refused opset change leaves the model as it was");
    }

    // Seeded random inputs (symbolic spatial dims of image inputs 64, others 1); outputs compared in graph order.
    private static double WorstRelativeByPosition(OnnxModel reference, OnnxModel candidate)
    {
        using var a = OnnxPrune.Runtime.OrtSessions.Create(reference);
        using var b = OnnxPrune.Runtime.OrtSessions.Create(candidate);
        var dims = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (name, meta) in a.InputMetadata)
            for (int axis = 0; axis < meta.Dimensions.Length; axis++)
                if (meta.Dimensions[axis] < 0) dims[$"{name}:{axis}"] = meta.Dimensions.Length == 4 && axis >= 2 ? 64 : 1;
        var inputs = OnnxPrune.Runtime.RandomInputs.Create(a.InputMetadata, 7, dims);
        var x = OnnxPrune.Runtime.SessionExtensions.RunTensors(a, inputs, a.OutputNames.ToArray());
        var y = OnnxPrune.Runtime.SessionExtensions.RunTensors(b, inputs, b.OutputNames.ToArray());
        double worst = 0;
        for (int i = 0; i < a.OutputNames.Count; i++)
        {
            var e = x[a.OutputNames[i]];
            var c = y[b.OutputNames[i]];
            Assert.That(c.Shape, Is.EqualTo(e.Shape), $"output {i}");
            worst = Math.Max(worst, OnnxPrune.Pruning.EquivalenceCheck.RelativeDifference(e, c, ExportChecks.RelativeScaleFloor));
        }
        return worst;
    }

    [TestCaseSource(nameof(Models))]
    public void Fold_bn_and_cleanup_keep_the_outputs(string file)
    {
        var original = Load(file);
        var model = Load(file);
        var results = Exporter.FloatPasses(new ExportOptions { FoldBatchNorm = true, Cleanup = true }).Run(model);

        int bnBefore = original.Graph.Nodes.Count(n => n.OpType == "BatchNormalization");
        int bnAfter = model.Graph.Nodes.Count(n => n.OpType == "BatchNormalization");
        var folded = results.Single(r => r.Pass == "fold-bn");
        Assert.That(bnAfter, Is.EqualTo(bnBefore - folded.Changes));
        var diffs = ExportChecks.Compare(original, model, 1, seed: 5).Outputs;
        TestContext.Out.WriteLine($"{file}: {string.Join("; ", results.Select(r => $"{r.Pass} {r.Changes}"))}; worst rel {diffs.Max(d => d.MaxRel):G3}");
        Assert.That(diffs.Max(d => d.MaxRel), Is.LessThan(1e-5), string.Join("; ", diffs));
        Assert.That(model.Graph.Nodes.Count, Is.LessThanOrEqualTo(original.Graph.Nodes.Count));
        OnnxChecker.Check(model.ToBytes());
    }

    [TestCaseSource(nameof(Models))]
    public void Fp16_with_float32_io_runs_and_stays_close_or_is_refused(string file)
    {
        var original = Load(file);
        var model = Load(file);
        if (original.Graph.Constants.Any(c => c.ElementType == ElementType.Float16))
        {
            // Already float16 (squeezenet_fp16_winml): a typed refusal that leaves the model as it was.
            var before = model.ToBytes();
            Assert.Throws<UnsupportedModelException>(() => new Float16Pass(keepIoTypes: true).Run(model));
            Assert.That(model.ToBytes(), Is.EqualTo(before));
            return;
        }
        new Float16Pass(keepIoTypes: true).Run(model);
        Assert.That(model.Graph.Initializers.Where(i => i.ElementType == ElementType.Float && i.ElementCount > 16
            && i.Value.Consumers.All(c => !Float16Pass.DefaultKeepFloat32Ops.Contains(c.OpType))), Is.Empty);
        var diffs = ExportChecks.Compare(original, model, 1, seed: 5).Outputs;
        TestContext.Out.WriteLine($"{file}: fp16 worst rel {diffs.Max(d => d.MaxRel):G3}");
        Assert.That(diffs.All(d => double.IsFinite(d.MaxRel)), Is.True, string.Join("; ", diffs));
        OnnxChecker.Check(model.ToBytes());
    }

    [TestCaseSource(nameof(Models))]
    public void Dynamic_int8_runs_wherever_it_applies(string file)
    {
        var original = Load(file);
        var model = Load(file);
        if (PassHelpersOpset(model) < 11)
        {
            Assert.Throws<UnsupportedModelException>(() => new QuantizeDynamicPass().Run(model));
            return;
        }
        var result = new QuantizeDynamicPass(weightOnlyMinElements: 0).Run(model);
        Assert.That(model.Graph.Nodes.Count(n => n.OpType == "MatMulInteger"), Is.EqualTo(result.Changes));
        var diffs = ExportChecks.Compare(original, model, 1, seed: 5).Outputs;
        TestContext.Out.WriteLine($"{file}: {result.Changes} MatMuls quantized; worst rel {diffs.Max(d => d.MaxRel):G3}");
        Assert.That(diffs.All(d => double.IsFinite(d.MaxRel)), Is.True, string.Join("; ", diffs));
        OnnxChecker.Check(model.ToBytes());
    }

    private static long PassHelpersOpset(OnnxModel m) => m.GetOpset("") is var o && o > 0 ? o : 17;
}
