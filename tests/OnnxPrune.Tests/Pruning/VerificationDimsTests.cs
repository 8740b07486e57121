using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Pruning.Importance;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Pruning;

/// <summary><c>prune --verify</c> on a model whose symbolic input dims are tied by shape arithmetic (issue 12): an
/// additive attention mask of length <c>past + seq</c> next to a KV cache. Verification picks sizes that fit (the shape
/// engine's ties), solves for what the user did not give, and otherwise fails with a typed error naming the dims.</summary>
public class VerificationDimsTests
{
    private const long C = 8, Heads = 2, HeadDim = 4, Hidden = 12;

    /// <summary>One decoder layer with a KV cache (past_key/past_value [batch, heads, past, dim]) and an additive mask
    /// [batch, 1, 1, <paramref name="maskDim"/>] added to the scores [batch, heads, seq, past + seq]. With
    /// <paramref name="hideTie"/> the mask goes through Tile (no shape rule), so the engine cannot see the tie.</summary>
    public static OnnxModel Model(int seed, string maskDim, bool hideTie = false)
    {
        var f = new ModelFactory(new Random(seed));
        var b = f.B;
        var x = b.Input("x", ElementType.Float, "batch", "sequence_length", C);
        var pastK = b.Input("past_key", ElementType.Float, "batch", Heads, "past_sequence_length", HeadDim);
        var pastV = b.Input("past_value", ElementType.Float, "batch", Heads, "past_sequence_length", HeadDim);
        var mask = b.Input("attention_mask", ElementType.Float, "batch", 1, 1, maskDim);
        Value Heads4(Value t) => b.Transpose(b.Reshape(t, 0, 0, Heads, HeadDim), 0, 2, 1, 3);
        var n = f.LayerNorm(x, C);
        var q = Heads4(f.Linear(n, C, C));
        var k = b.Concat(2, pastK, Heads4(f.Linear(n, C, C)));
        var v = b.Concat(2, pastV, Heads4(f.Linear(n, C, C)));
        var m = hideTie ? b.Op("Tile", [mask, b.Int64s("reps", 1, 1, 1, 1)]) : mask;
        var scores = b.Add(b.Mul(b.MatMul(q, b.Transpose(k, 0, 1, 3, 2)), f.Scalar(0.5f)), m);
        var attn = b.Reshape(b.Transpose(b.MatMul(b.Softmax(scores, -1), v), 0, 2, 1, 3), 0, 0, C);
        var h = b.Add(x, f.Linear(attn, C, C));
        h = b.Add(h, f.Linear(f.Gelu(f.Linear(f.LayerNorm(h, C), C, Hidden)), Hidden, C));
        b.Output(f.Linear(f.LayerNorm(h, C), C, 5), ElementType.Float, "batch", "sequence_length", 5);
        return b.Build();
    }

    private static PruneOptions Options(Dictionary<string, long>? dims = null) => new()
    {
        Criterion = new MagnitudeCriterion(2),
        Budget = new UniformRatioBudget(0.5),
        Verify = new VerificationOptions { Dims = dims ?? new Dictionary<string, long>() },
    };

    [TestCase("total")]
    [TestCase("past_sequence_length + sequence_length")]
    public async Task VerifyPicksAMaskLengthThatIsTheCachePlusTheSequence(string maskDim)
    {
        var model = Model(1, maskDim);
        var shapes = ShapeInference.Infer(model.Graph);
        Assert.That(shapes.Ties.Any(t => DimTies.Names(t.A).Concat(DimTies.Names(t.B)).Contains(maskDim)), Is.True, string.Join("\n", shapes.Ties));
        var dims = EquivalenceCheck.InputDims(model, new VerificationOptions());
        Assert.That((dims["batch"], dims["sequence_length"], dims["past_sequence_length"]), Is.EqualTo((1L, 64L, 64L)));
        Assert.That(dims[maskDim], Is.EqualTo(128));
        var report = await Pruner.Default.PruneAsync(model, Options());
        Assert.That(report.Verification!.Passed, Is.True, $"max relative difference {report.Verification.MaxRelativeDifference}");
        Assert.That(report.Verification.MaxRelativeDifference, Is.LessThan(1e-4));
    }

    [Test]
    public void AGivenMaskLengthAndSequenceGiveTheCacheLength()
    {
        var dims = EquivalenceCheck.InputDims(Model(2, "total"), new VerificationOptions { Dims = new Dictionary<string, long> { ["total"] = 7, ["sequence_length"] = 3 } });
        Assert.That(dims["past_sequence_length"], Is.EqualTo(4), "past = total − seq");
        // An INPUT:AXIS key names that axis's dim too.
        dims = EquivalenceCheck.InputDims(Model(2, "total"), new VerificationOptions { Dims = new Dictionary<string, long> { ["past_key:2"] = 5, ["x:1"] = 2 } });
        Assert.That(dims["total"], Is.EqualTo(7));
    }

    [Test]
    public void InconsistentDimsFailWithATypedErrorNamingThem()
    {
        var model = Model(3, "total");
        var before = model.ToBytes();
        var dims = new Dictionary<string, long> { ["total"] = 5, ["sequence_length"] = 3, ["past_sequence_length"] = 4 };
        var e = Assert.ThrowsAsync<VerificationInputException>(() => Pruner.Default.PruneAsync(model, Options(dims)));
        Assert.That(e!.Message, Does.Contain("'total' = 5").And.Contain("must be equal").And.Contain("--dim total="));
        Assert.That(model.ToBytes(), Is.Not.EqualTo(before), "the verification runs after surgery, as before: the error is about the check only");
    }

    [Test]
    public void ATieTheEngineCannotSeeFailsWithAHintInsteadOfARawRuntimeError()
    {
        var model = Model(4, "total", hideTie: true);
        var e = Assert.ThrowsAsync<VerificationInputException>(() => Pruner.Default.PruneAsync(model, Options()));
        Assert.That(e!.Message, Does.Contain("ONNX Runtime rejected the verification inputs").And.Contain("total=64").And.Contain("--dim NAME=VALUE"));
        Assert.That(e.InnerException, Is.InstanceOf<OnnxPrune.Runtime.OrtCallException>());
    }

    [Test]
    public void CliVerifiesTheTiedModelAndNamesTheDimsWhenTheyConflict()
    {
        var dir = TestPaths.TempDir();
        var (path, output) = (Path.Combine(dir, "kv.onnx"), Path.Combine(dir, "kv.pruned.onnx"));
        Model(5, "total").Save(path);
        var (code, stdout, stderr) = OnnxPrune.Tests.Training.TrainingCliTests.Cli("prune", path, output, "--ratio", "0.5", "--verify");
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain(": ok"), stdout);
        File.Delete(output);
        (code, _, stderr) = OnnxPrune.Tests.Training.TrainingCliTests.Cli("prune", path, output, "--ratio", "0.5", "--verify",
            "--dim", "total=5", "--dim", "sequence_length=3", "--dim", "past_sequence_length=4");
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr, Does.Contain("verification inputs").And.Contain("--dim"));
        Assert.That(File.Exists(output), Is.False, "nothing written when the check cannot run");
    }
}
