using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Tensors;
using OnnxPrune.Tests.Pruning;

namespace OnnxPrune.Tests.Analysis;

/// <summary>Transformer graphs built the way real exporters write them (run-time Reshape targets from Shape, Gemm
/// wrapped in [B·T, C] Reshapes, fused QKV, KV cache), and the shared paddle2onnx SVTR recognizer: the analyser finds
/// their MLP and head groups, and every cut matches the masked reference.</summary>
public class ExportStyleTests
{
    internal const long C = 16, Heads = 4, HeadDim = 4, Hidden = 32, Vocab = 7;

    // shape(t)[axis] as a 1-element int64 vector (Shape → Gather → Unsqueeze, as torch.onnx writes it).
    private static Value DimOf(GraphBuilder b, Value t, long axis) =>
        b.Op("Unsqueeze", [b.Op("Gather", [b.Op("Shape", [t]), b.Initializer("i", Tensor.Scalar(axis))], ("axis", 0L)), b.Int64s("ax", 0)]);

    // GPT-2's Conv1D: x.view(-1, x.size(-1)) → addmm → view(x.size()[:-1] + (nf,)), every target computed at run time.
    private static Value Conv1D(ModelFactory f, Value x, long cin, long cout)
    {
        var b = f.B;
        var flat = b.Op("Reshape", [x, b.Concat(0, b.Int64s("m1", -1), DimOf(b, x, 2))]);
        var y = b.Gemm(flat, f.W("cw", cin, cout), f.W("cb", cout));
        return b.Op("Reshape", [y, b.Concat(0, DimOf(b, x, 0), DimOf(b, x, 1), b.Int64s("nf", cout))]);
    }

    // [B, T, heads, dim]; with runTimeHeads the head count is hidden / dim read from t's shape (Div, as dynamo exports write it).
    private static Value SplitHeads(GraphBuilder b, Value t, bool runTimeHeads = false)
    {
        var heads = runTimeHeads
            ? b.Op("Unsqueeze", [b.Op("Div", [b.Op("Gather", [b.Op("Shape", [t]), b.Initializer("i", Tensor.Scalar(2L))], ("axis", 0L)), b.Initializer("hd", Tensor.Scalar(HeadDim))]), b.Int64s("ax", 0)])
            : b.Int64s("h", Heads);
        return b.Transpose(b.Op("Reshape", [t, b.Concat(0, DimOf(b, t, 0), DimOf(b, t, 1), heads, b.Int64s("d", HeadDim))]), 0, 2, 1, 3);
    }

    /// <summary>A GPT-2-style decoder as optimum / torch.onnx export it: input embeddings [batch, seq, C], a KV cache
    /// (past_key_values.i.key/value [batch, heads, past, dim] in, present.i.* out), fused c_attn split by Split on the
    /// feature axis, scores scaled by Div, every Reshape target computed from Shape.</summary>
    /// <param name="seed">Weights' seed.</param>
    /// <param name="layers">Decoder layers.</param>
    /// <param name="runTimeHeads">Head counts computed as hidden / head size from Shape (Div) instead of constants.</param>
    /// <param name="mask">An additive attention mask input [batch, 1, 1, "past + seq"] (its length tied to the cache's).</param>
    public static OnnxModel Gpt2(int seed, int layers = 4, bool runTimeHeads = false, bool mask = false)
    {
        var f = new ModelFactory(new Random(seed));
        var b = f.B;
        var x = b.Input("inputs_embeds", ElementType.Float, "batch", "seq", C);
        var attentionMask = mask ? b.Input("attention_mask", ElementType.Float, "batch", 1, 1, "past + seq") : null;
        var outputs = new List<(Value, object[])>();
        var h = x;
        for (int l = 0; l < layers; l++)
        {
            var pastK = b.Input($"past_key_values.{l}.key", ElementType.Float, "batch", Heads, "past", HeadDim);
            var pastV = b.Input($"past_key_values.{l}.value", ElementType.Float, "batch", Heads, "past", HeadDim);
            var qkv = Conv1D(f, f.LayerNorm(h, C), C, 3 * C);
            var parts = b.OpNode("Split", [qkv, b.Int64s("split", C, C, C)], 3, ("axis", 2L));
            var q = SplitHeads(b, parts.Output(0)!, runTimeHeads);
            var k = b.Concat(2, pastK, SplitHeads(b, parts.Output(1)!, runTimeHeads));
            var v = b.Concat(2, pastV, SplitHeads(b, parts.Output(2)!, runTimeHeads));
            outputs.Add((k, ["batch", Heads, "total", HeadDim]));
            outputs.Add((v, ["batch", Heads, "total", HeadDim]));
            var scores = b.Op("Div", [b.MatMul(q, b.Transpose(k, 0, 1, 3, 2)), b.Initializer("scale", Tensor.Scalar(MathF.Sqrt(HeadDim)))]);
            if (attentionMask is not null) scores = b.Add(scores, attentionMask);
            var attn = b.Transpose(b.MatMul(b.Softmax(scores, -1), v), 0, 2, 1, 3);
            var merged = b.Op("Reshape", [attn, b.Concat(0, DimOf(b, attn, 0), DimOf(b, attn, 1), b.Int64s("hd", C))]);
            h = b.Add(h, Conv1D(f, merged, C, C));
            h = b.Add(h, Conv1D(f, f.Gelu(Conv1D(f, f.LayerNorm(h, C), C, Hidden)), Hidden, C));
        }
        var logits = b.MatMul(f.LayerNorm(h, C), f.W("lm_head", C, Vocab));
        b.Output(logits, ElementType.Float, "batch", "seq", Vocab);
        for (int l = 0; l < outputs.Count; l++)
        {
            var (v, dims) = outputs[l];
            var present = b.Graph.AddNode("Identity", [v], [$"present.{l / 2}.{(l % 2 == 0 ? "key" : "value")}"]).Output(0)!;
            b.Output(present, ElementType.Float, dims);
        }
        return b.Build();
    }

    [Test]
    public void Gpt2StyleExportHasItsMlpGroupsPrunableAndItsCachedHeadsBlockedAsInterface()
    {
        var model = Gpt2(1);
        var analysis = DependencyAnalyzer.Analyze(model);
        // The MLP's c_fc runs as a Gemm on [batch·seq, C]: its hidden units are Features groups of the Gemm.
        var mlp = analysis.Groups.Where(g => g.Kind is GroupKind.MlpHidden or GroupKind.Features && g.Size == Hidden).ToList();
        Assert.That(mlp, Has.Count.EqualTo(4), string.Join("\n", analysis.Groups));
        Assert.That(mlp.All(g => !g.IsBlocked), Is.True, string.Join("\n", mlp.SelectMany(g => g.BlockedReasons)));
        // The heads reach the KV cache, part of the model's interface: blocked, with that reason.
        var heads = analysis.Groups.Where(g => g.Kind == GroupKind.AttentionHeads).ToList();
        Assert.That(heads, Has.Count.EqualTo(4), string.Join("\n", analysis.Groups));
        foreach (var g in heads)
        {
            Assert.That(g.Size, Is.EqualTo(Heads));
            Assert.That(g.BlockedReasons.Any(r => r.Contains("past_key_values.") && r.Contains("interface")), Is.True, string.Join("; ", g.BlockedReasons));
        }
    }

    [TestCase(0.5, 2)]
    [TestCase(0.25, 3)]
    public void Gpt2StyleMlpPruningMatchesTheOracle(double keep, int seed)
    {
        var dims = new Dictionary<string, long> { ["batch"] = 2, ["seq"] = 3, ["past"] = 5 };
        var outcome = Oracle.Check(Gpt2(seed), new Random(seed), keep, dims);
        Assert.That(outcome.Prunable, Is.GreaterThanOrEqualTo(4));
        Assert.That(outcome.Result.ParametersAfter, Is.LessThan(outcome.Result.ParametersBefore));
        Assert.That(outcome.MaxRelativeDiff, Is.LessThanOrEqualTo(Oracle.Tolerance));
    }

    /// <summary>timm / paddle2onnx fused QKV: one Linear → [B, T, 3·H·D] → Reshape [B, T, 3, H, D] (target from Shape)
    /// → Transpose → Slice/Gather into Q, K, V.</summary>
    private static OnnxModel FusedQkv(int seed, bool gather)
    {
        var f = new ModelFactory(new Random(seed));
        var b = f.B;
        var x = b.Input("x", ElementType.Float, "N", "T", C);
        var qkv = f.Linear(f.LayerNorm(x, C), C, 3 * C);
        var r = b.Op("Reshape", [qkv, b.Concat(0, b.Int64s("zero", 0), DimOf(b, x, 1), b.Int64s("parts", 3, Heads, HeadDim))]);
        var t = b.Transpose(r, 2, 0, 3, 1, 4); // [3, N, H, T, D]
        Value Part(long i) => gather
            ? b.Op("Gather", [t, b.Initializer("p", Tensor.Scalar(i))], ("axis", 0L))
            : b.Op("Squeeze", [b.Op("Slice", [t, b.Int64s("s", i), b.Int64s("e", i + 1), b.Int64s("a", 0)]), b.Int64s("sa", 0)]);
        var q = b.Mul(Part(0), f.Scalar(1 / MathF.Sqrt(HeadDim)));
        var scores = b.MatMul(q, b.Transpose(Part(1), 0, 1, 3, 2));
        var attn = b.Transpose(b.MatMul(b.Softmax(scores, -1), Part(2)), 0, 2, 1, 3);
        var merged = b.Op("Reshape", [attn, b.Concat(0, b.Int64s("z2", 0), DimOf(b, x, 1), b.Int64s("c", C))]);
        var h = b.Add(x, f.Linear(merged, C, C));
        h = b.Add(h, f.Linear(f.Gelu(f.Linear(f.LayerNorm(h, C), C, Hidden)), Hidden, C));
        b.Output(f.Linear(f.LayerNorm(h, C), C, Vocab), ElementType.Float, "N", "T", Vocab);
        return b.Build();
    }

    [TestCase(false)]
    [TestCase(true)]
    public void FusedQkvHeadsAreOneGroupAndMatchTheOracle(bool gather)
    {
        var analysis = DependencyAnalyzer.Analyze(FusedQkv(4, gather));
        var heads = analysis.Groups.Where(g => g.Kind == GroupKind.AttentionHeads).ToList();
        Assert.That(heads, Has.Count.EqualTo(1), string.Join("\n", analysis.Groups));
        Assert.That(heads[0].IsBlocked, Is.False, string.Join("; ", heads[0].BlockedReasons));
        Assert.That(heads[0].Size, Is.EqualTo(Heads));
        // Each head owns HeadDim columns in each of Q, K and V of the fused weight.
        var fused = heads[0].ConstantSlices.Single(s => s.Value!.Constant!.Shape.SequenceEqual(new[] { C, 3 * C }));
        Assert.That(fused.Map.Positions(1), Is.EqualTo(new long[] { 4, 5, 6, 7, 20, 21, 22, 23, 36, 37, 38, 39 }));
        Assert.That(heads[0].Items.OfType<ShapeElementItem>().Count(i => i.Factor == 1), Is.EqualTo(1), "the head count 4 in [0, T, 3, 4, 4]");
        var outcome = Oracle.Check(FusedQkv(4, gather), new Random(5), 0.5, new Dictionary<string, long> { ["N"] = 2, ["T"] = 3 });
        Assert.That(outcome.Prunable, Is.GreaterThanOrEqualTo(2));
        Assert.That(outcome.MaxRelativeDiff, Is.LessThanOrEqualTo(Oracle.Tolerance));
    }

    [Test]
    public void SvtrRecognizerAttentionHeadsAreGroupedAndPrunedWithVerification()
    {
        var model = OnnxModel.Load(TestPaths.SharedModel("ppocrv4_rec_svtr.onnx"));
        var analysis = DependencyAnalyzer.Analyze(model);
        var heads = analysis.Groups.Where(g => g.Kind == GroupKind.AttentionHeads).ToList();
        Assert.That(heads, Has.Count.EqualTo(2), string.Join("\n", analysis.Groups));
        Assert.That(heads.All(g => !g.IsBlocked && g.Size == 8), Is.True, string.Join("\n", heads));
        // The output is a Softmax over 6,625 classes: compare its input (the logits) at the oracle's tolerance and the
        // probabilities at prune --verify's 1e-4 (rounding in the pruned MatMuls' accumulation order is amplified).
        var logits = model.Graph.Outputs[0].Producer!.Input(0)!;
        logits.SetTensorType(ElementType.Float, [Dim.Unknown, Dim.Unknown, Dim.Unknown]);
        model.Graph.AddOutput(logits);
        var dims = new Dictionary<string, long> { ["p2o.DynamicDimension.0"] = 1, ["p2o.DynamicDimension.1"] = 160 };
        var outcome = Oracle.Check(model, new Random(11), 0.5, dims);
        Assert.That(outcome.Analysis.Prunable.Count(g => g.Kind == GroupKind.AttentionHeads), Is.EqualTo(2));
        Assert.That(outcome.Diffs[logits.Name], Is.LessThanOrEqualTo(Oracle.Tolerance));
        Assert.That(outcome.MaxRelativeDiff, Is.LessThanOrEqualTo(1e-4));
    }
}

/// <summary><see cref="AnalysisOptions.AllowInterfaceChange"/>: the KV-cached heads of the GPT-2-style export become
/// prunable; the pruned model declares and takes the smaller cache, and matches the masked reference on the kept heads.</summary>
public class InterfaceChangeTests
{
    private static Tensor Select(Tensor t, int axis, long[] keep)
    {
        var shape = t.Shape.ToArray();
        var src = t.ToFloatArray();
        long outer = shape.Take(axis).Aggregate(1L, (p, d) => p * d), inner = shape.Skip(axis + 1).Aggregate(1L, (p, d) => p * d);
        var dst = new float[outer * keep.Length * inner];
        for (long o = 0; o < outer; o++)
            for (int k = 0; k < keep.Length; k++)
                Array.Copy(src, (o * shape[axis] + keep[k]) * inner, dst, (o * keep.Length + k) * inner, inner);
        shape[axis] = keep.Length;
        return Tensor.FromArray<float>(dst, shape);
    }

    [Test]
    public void CachedHeadsArePrunedWithTheNewCacheShapeAndMatchTheReference()
    {
        var model = ExportStyleTests.Gpt2(21);
        Assert.That(DependencyAnalyzer.Analyze(model).Groups.Where(g => g.Kind == GroupKind.AttentionHeads).All(g => g.IsBlocked), Is.True, "blocked by default");
        var analysis = DependencyAnalyzer.Analyze(model, new AnalysisOptions { AllowInterfaceChange = true });
        var heads = analysis.Groups.Where(g => g.Kind == GroupKind.AttentionHeads).ToList();
        Assert.That(heads, Has.Count.EqualTo(4), string.Join("\n", analysis.Groups));
        Assert.That(heads.All(g => !g.IsBlocked), Is.True, string.Join("\n", heads.SelectMany(g => g.BlockedReasons)));
        var rng = new Random(22);
        var masks = heads.Select((g, i) => new KeepMask(g, i % 2 == 0 ? [0, 2] : [1, 2, 3])).ToList();
        var inputs = Oracle.RandomInputs(model, rng, new Dictionary<string, long> { ["batch"] = 2, ["seq"] = 3, ["past"] = 5 });
        var reference = Oracle.Run(MaskedReference.Build(model, masks).ToBytes(), inputs);
        // Which cache positions each layer keeps (the group's map on the cache input's head axis).
        var keptAt = new Dictionary<string, long[]>();
        foreach (var (g, m) in heads.Zip(masks))
            foreach (var item in g.Items.OfType<ValueDimItem>().Where(i => i.Value.IsGraphInput || i.Value.IsGraphOutput))
                keptAt[item.Value.Name] = m.Kept.SelectMany(u => item.Map.Positions(u)).Order().ToArray();
        Assert.That(keptAt.Keys.Count(k => k.StartsWith("past_key_values.")), Is.EqualTo(8));
        Assert.That(keptAt.Keys.Count(k => k.StartsWith("present.")), Is.EqualTo(8));
        PruningSurgery.Apply(model, masks);
        var pruned = model.ToBytes();
        OnnxChecker.Check(pruned);
        Assert.That(model.Graph.Inputs.Single(v => v.Name == "past_key_values.1.value").Shape![1].Value, Is.EqualTo(3), "declared cache shape rewritten");
        var prunedInputs = inputs.ToDictionary(kv => kv.Key, kv => keptAt.TryGetValue(kv.Key, out var keep) ? Select(kv.Value, 1, keep) : kv.Value);
        var actual = Oracle.Run(pruned, prunedInputs);
        foreach (var (name, e) in reference)
        {
            var expected = keptAt.TryGetValue(name, out var keep) ? Select(e, 1, keep) : e;
            var ef = expected.ToFloatArray();
            var af = actual[name].ToFloatArray();
            Assert.That(actual[name].Shape, Is.EqualTo(expected.Shape), name);
            double scale = ef.Max(Math.Abs), diff = ef.Zip(af).Max(p => Math.Abs(p.First - p.Second));
            Assert.That(diff / scale, Is.LessThanOrEqualTo(Oracle.Tolerance), name);
        }
    }

    [Test]
    public async Task PrunerWithInterfaceChangeVerifiesOnTheSmallerCache()
    {
        var model = ExportStyleTests.Gpt2(31);
        var report = await Pruner.With(new AnalysisOptions { AllowInterfaceChange = true }).PruneAsync(model, new PruneOptions
        {
            Criterion = new OnnxPrune.Pruning.Importance.MagnitudeCriterion(2),
            Budget = new UniformRatioBudget(0.5),
            Verify = new VerificationOptions { Dims = new Dictionary<string, long> { ["batch"] = 1, ["seq"] = 3, ["past"] = 4, ["total"] = 7 } },
        });
        Assert.That(report.Verification, Is.Not.Null);
        Assert.That(report.Verification!.Passed, Is.True, $"max relative difference {report.Verification.MaxRelativeDifference}");
        Assert.That(report.Verification.MaxRelativeDifference, Is.LessThan(1e-4));
        Assert.That(model.Graph.Inputs.Where(v => v.Name.StartsWith("past_key_values.")).Select(v => v.Shape![1].Value), Is.All.EqualTo(2), "4 heads → 2 in every cache input");
        Assert.That(model.Graph.Outputs.Where(v => v.Name.StartsWith("present.")).Select(v => v.Shape![1].Value), Is.All.EqualTo(2));
    }

    [Test]
    public async Task RunTimeHeadCountsAndATiedMaskVerifyWithoutAnyDim()
    {
        // Head counts computed as hidden / head size, an attention mask of length past + seq: the heads are grouped, and
        // --verify picks input sizes that fit together by itself (mask length = past + seq).
        var model = ExportStyleTests.Gpt2(41, layers: 2, runTimeHeads: true, mask: true);
        var analysis = DependencyAnalyzer.Analyze(model, new AnalysisOptions { AllowInterfaceChange = true });
        var heads = analysis.Groups.Where(g => g.Kind == GroupKind.AttentionHeads).ToList();
        Assert.That(heads, Has.Count.EqualTo(2), string.Join("\n", analysis.Groups));
        Assert.That(heads.All(g => !g.IsBlocked), Is.True, string.Join("\n", heads.SelectMany(g => g.BlockedReasons)));
        var report = await Pruner.With(new AnalysisOptions { AllowInterfaceChange = true }).PruneAsync(model, new PruneOptions
        {
            Criterion = new OnnxPrune.Pruning.Importance.MagnitudeCriterion(2),
            Budget = new UniformRatioBudget(0.5),
            Verify = new VerificationOptions(),
        });
        Assert.That(report.Verification!.Passed, Is.True, $"max relative difference {report.Verification.MaxRelativeDifference}");
        Assert.That(model.Graph.Inputs.Where(v => v.Name.StartsWith("past_key_values.")).Select(v => v.Shape![1].Value), Is.All.EqualTo(2));
        Assert.That(model.Graph.Nodes.Count(n => n.OpType == "Div" && n.Input(1)!.Constant is { ElementType: ElementType.Int64 } c && c.Data.ToInt64Array()[0] == ExportStyleTests.HeadDim),
            Is.EqualTo(6), "the head-size divisors are not rewritten: hidden / head size gives the new head count by itself");
    }

    [Test]
    public void CliFlagUnblocksTheCachedHeads()
    {
        var path = Path.Combine(Path.GetTempPath(), $"gpt2-style-{Guid.NewGuid():N}.onnx");
        var output = Path.ChangeExtension(path, ".pruned.onnx");
        try
        {
            ExportStyleTests.Gpt2(32).Save(path);
            var (code, stdout, _) = Run("analyze", path);
            Assert.That(code, Is.EqualTo(0));
            // 4 MLPs prunable; 4 cached head groups, the residual stream and the lm_head (the logits output) blocked.
            Assert.That(stdout, Does.Contain("Groups: 10, prunable: 4, blocked: 6"), stdout);
            (code, stdout, _) = Run("analyze", path, "--allow-interface-change");
            // Any interface dim may change: the heads and the vocabulary; the residual stream stays blocked by its LayerNorms.
            Assert.That(stdout, Does.Contain("Groups: 10, prunable: 9, blocked: 1"), stdout);
            (code, stdout, var err) = Run("prune", path, output, "--ratio", "0.5", "--allow-interface-change", "--verify", "--dim", "batch=1", "--dim", "seq=2", "--dim", "past=3");
            Assert.That(code, Is.EqualTo(0), err);
            Assert.That(stdout, Does.Contain(": ok"), stdout);
            Assert.That(OnnxModel.Load(output).Graph.Inputs.Single(v => v.Name == "past_key_values.0.key").Shape![1].Value, Is.EqualTo(2));
        }
        finally
        {
            File.Delete(path);
            File.Delete(output);
        }
    }

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "OnnxPrune.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr);
    }
}

/// <summary>Detection heads and the prunable share of <c>analyze</c>.</summary>
public class DetectionHeadAndShareTests
{
    [Test]
    public void YoloxHeadsAreTheOnlyBlockedGroupsAndSaySo()
    {
        var analysis = DependencyAnalyzer.Analyze(OnnxModel.Load(TestPaths.SharedModel("yolox_nano.onnx")));
        var blocked = analysis.Blocked.ToList();
        Assert.That(blocked.Count, Is.InRange(1, 3), string.Join("\n", blocked));
        foreach (var g in blocked)
            Assert.That(g.BlockedReasons.Any(r => r.StartsWith("detection/segmentation head") && r.Contains("into graph output 'output'")), Is.True, string.Join("; ", g.BlockedReasons));
        Assert.That(analysis.Prunable.Count(), Is.GreaterThan(60));
    }

    [Test]
    public void PrunableShareCountsOnlyWhatABudgetCanRemove()
    {
        var f = new ModelFactory(new Random(3));
        var x = f.B.Input("x", ElementType.Float, "N", 3, 8, 8);
        var h = f.B.Relu(f.Conv(x, 3, 4));
        f.B.Output(f.Conv(h, 4, 2), ElementType.Float, "N", 2, 8, 8);
        var model = f.B.Build();
        var analysis = DependencyAnalyzer.Analyze(model);
        var report = AnalysisReport.Of(model, analysis);
        Assert.That(analysis.Prunable.Count(), Is.EqualTo(1));
        Assert.That(analysis.Blocked.Count(), Is.EqualTo(1));
        // The prunable group (4 channels) covers w1 [4,3,3,3], b1 [4] and w2's columns [2,4,3,3] on axis 1: 184 elements,
        // of which a budget can remove 3 of 4 channels' worth; the blocked output conv's rows and bias count nothing.
        Assert.That(AnalysisReport.CoveredParameters(analysis.Prunable), Is.EqualTo(108 + 4 + 72));
        Assert.That(report.PrunableParameters, Is.EqualTo(3 * (108 + 4 + 72) / 4));
        Assert.That(report.PrunableShare, Is.EqualTo(138.0 / report.Parameters).Within(1e-12));
        Assert.That(report.Parameters, Is.EqualTo(108 + 4 + 72 + 2));
    }
}
