using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Pruning;

/// <summary>The equivalence oracle for tests: prune, build the masked reference, run both on ONNX Runtime, compare;
/// and the independent onnx.checker.</summary>
public static class Oracle
{
    /// <summary>Relative tolerance: max |pruned − reference| ≤ Tolerance · max |reference| per output.</summary>
    public const double Tolerance = 1e-5;

    private static readonly SessionSettings Options = new() { IntraOpThreads = 1, InterOpThreads = 1, AllowSpinning = false };

    /// <summary>Runs a serialized model on ONNX Runtime.</summary>
    public static IReadOnlyDictionary<string, Tensor> Run(byte[] model, IReadOnlyDictionary<string, Tensor> inputs)
    {
        using var session = OrtSessions.Create(model, Options);
        return session.RunTensors(inputs);
    }

    /// <summary>Random inputs for every data input; symbolic dims take <paramref name="dims"/>[name] or 1 (axis 0) / <paramref name="defaultSize"/>.</summary>
    public static Dictionary<string, Tensor> RandomInputs(OnnxModel model, Random rng, IReadOnlyDictionary<string, long>? dims = null, long defaultSize = 32)
    {
        var result = new Dictionary<string, Tensor>();
        foreach (var v in model.Graph.DataInputs)
        {
            var shape = (v.Shape ?? throw new InvalidOperationException($"Input {v.Name} has no shape"))
                .Select((d, i) => d.Value ?? (d.Param is { } p && dims?.TryGetValue(p, out var s) == true ? s : i == 0 ? 1 : defaultSize)).ToArray();
            long n = Tensor.CountElements(shape);
            var t = Tensor.Zeros(v.ElementType, shape);
            switch (v.ElementType)
            {
                case ElementType.Float: { var s = t.AsSpan<float>(); for (int i = 0; i < n; i++) s[i] = (float)(rng.NextDouble() * 2 - 1); break; }
                case ElementType.Float16: { var s = t.AsSpan<Half>(); for (int i = 0; i < n; i++) s[i] = (Half)(rng.NextDouble() * 2 - 1); break; }
                default: throw new NotSupportedException($"Input {v.Name}: {v.ElementType}");
            }
            result[v.Name] = t;
        }
        return result;
    }

    /// <summary>Random keep-masks keeping about <paramref name="keepFraction"/> of each prunable group (at least its minimum).</summary>
    public static List<KeepMask> RandomMasks(DependencyAnalysis analysis, Random rng, double keepFraction = 0.5)
    {
        var masks = new List<KeepMask>();
        foreach (var g in analysis.Prunable)
        {
            long keep = Math.Max(g.MinKeep, (long)Math.Round(g.Size * keepFraction));
            var kept = Enumerable.Range(0, (int)g.Size).Select(i => (long)i).OrderBy(_ => rng.Next()).Take((int)keep).Order().ToArray();
            masks.Add(new KeepMask(g, kept));
        }
        return masks;
    }

    /// <summary>What one oracle check found.</summary>
    public sealed record Outcome(PruningResult Result, double MaxRelativeDiff, byte[] Pruned, DependencyAnalysis Analysis, int Prunable, IReadOnlyDictionary<string, double> Diffs,
        IReadOnlyDictionary<string, Tensor> Inputs, IReadOnlyDictionary<string, Tensor> Outputs);

    /// <summary>Analyses, masks, prunes, checks (onnx.checker) and compares with the masked reference on ORT.</summary>
    public static Outcome Check(OnnxModel model, Random rng, double keepFraction = 0.5, IReadOnlyDictionary<string, long>? dims = null, long defaultSize = 32, bool checker = true)
    {
        var analysis = DependencyAnalyzer.Analyze(model);
        var masks = RandomMasks(analysis, rng, keepFraction);
        var inputs = RandomInputs(model, rng, dims, defaultSize);
        var reference = MaskedReference.Build(model, masks).ToBytes();
        var result = PruningSurgery.Apply(model, masks);
        var pruned = model.ToBytes();
        if (checker) OnnxChecker.Check(pruned);
        var expected = Run(reference, inputs);
        var actual = Run(pruned, inputs);
        double worst = 0;
        var diffs = new Dictionary<string, double>();
        foreach (var (name, e) in expected)
        {
            var a = actual[name];
            Assert.That(a.Shape, Is.EqualTo(e.Shape), $"output {name} shape");
            var ef = e.ToFloatArray();
            var af = a.ToFloatArray();
            double scale = 0, diff = 0;
            for (int i = 0; i < ef.Length; i++)
            {
                Assert.That(float.IsFinite(ef[i]) && float.IsFinite(af[i]), Is.True, $"output {name}[{i}] not finite: {ef[i]} vs {af[i]}");
                scale = Math.Max(scale, Math.Abs(ef[i]));
                diff = Math.Max(diff, Math.Abs(ef[i] - af[i]));
            }
            diffs[name] = scale == 0 ? diff : diff / scale;
            worst = Math.Max(worst, diffs[name]);
        }
        return new Outcome(result, worst, pruned, analysis, masks.Count, diffs, inputs, actual);
    }
}

/// <summary>onnx.checker.check_model(full_check=True) through Debian's python3-onnx: fails (never skips) when missing.</summary>
public static class OnnxChecker
{
    /// <summary>Checks a serialized model; fails the test with the checker's message when invalid.</summary>
    public static void Check(byte[] model)
    {
        var path = Path.Combine(TestPaths.TempDir(), "model.onnx");
        File.WriteAllBytes(path, model);
        var result = Processes.RunPythonCode(
            "import sys, onnx\nonnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)\nprint('ok')", path);
        Assert.That(result.ExitCode, Is.EqualTo(0), $"onnx.checker rejected the pruned model: {result.StdErr}");
        Assert.That(result.StdOut.Trim(), Is.EqualTo("ok"));
    }
}
