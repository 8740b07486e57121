using OnnxPrune.Export;
using OnnxPrune.Graph;
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
