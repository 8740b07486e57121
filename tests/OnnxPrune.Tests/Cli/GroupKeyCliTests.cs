using System.Text.Json;
using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Pruning.Importance;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Cli;

/// <summary><c>analyze --json</c> keys and fingerprint, <c>prune --scores</c> with files for the right and the wrong
/// model, malformed scores files and NaN weights, end to end (the built CLI in a child process).</summary>
public class GroupKeyCliTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = TestPaths.TempDir();

    [TearDown]
    public void TearDown() { try { Directory.Delete(_dir, true); } catch (IOException) { } }

    private static (string Fingerprint, string[] Keys) Analyze(string path)
    {
        var r = Processes.RunCli("analyze", path, "--json");
        Assert.That(r.ExitCode, Is.Zero, r.ToString());
        using var doc = JsonDocument.Parse(r.StdOut);
        var root = doc.RootElement;
        return (root.GetProperty("fingerprint").GetString()!, root.GetProperty("groups").EnumerateArray().Select(g => g.GetProperty("key").GetString()!).ToArray());
    }

    [Test]
    public void AnalyzeJsonKeysAndFingerprintAreTheSameAfterConvertAndAfterStrippingNodeNames()
    {
        var source = TestPaths.SharedModel("yolox_nano.onnx");
        var (fingerprint, keys) = Analyze(source);
        Assert.That(fingerprint, Does.Match("^[0-9a-f]{64}$"));
        Assert.That(keys, Is.Not.Empty.And.All.Not.Empty);
        Assert.That(keys.Distinct().Count(), Is.EqualTo(keys.Length), "keys are unique");

        var converted = Path.Combine(_dir, "converted.onnx");
        var c = Processes.RunCli("convert", source, converted, "--external-data", "--external-threshold", "0");
        Assert.That(c.ExitCode, Is.Zero, c.ToString());
        Assert.That(Analyze(converted), Is.EqualTo((fingerprint, keys)).Using(new TupleComparer()), "after convert");

        var model = OnnxModel.Load(source);
        foreach (var node in model.Graph.Nodes) node.Name = "";
        var stripped = Path.Combine(_dir, "stripped.onnx");
        model.Save(stripped);
        Assert.That(Analyze(stripped), Is.EqualTo((fingerprint, keys)).Using(new TupleComparer()), "after stripping every node name");
    }

    [Test]
    public async Task AScoresFileIsAcceptedForItsModelAndRefusedForAnotherNamingBothFingerprints()
    {
        var resnet32 = TestPaths.SharedModel("resnet32_cifar_opencimtc.onnx");
        var model = OnnxModel.Load(resnet32);
        var groups = DependencyAnalyzer.Analyze(model).Groups;
        var scores = await new MagnitudeCriterion(1).ScoreAsync(ImportanceContext.For(model, groups));
        var file = Path.Combine(_dir, "scores.json");
        var fingerprint = ModelFingerprint.Of(model);
        ExternalScores.Save(file, scores, groups, fingerprint);

        var ok = Processes.RunCli("prune", resnet32, Path.Combine(_dir, "ok.onnx"), "--scores", file, "--ratio", "0.5");
        Assert.That(ok.ExitCode, Is.Zero, ok.ToString());

        var resnet20 = TestPaths.SharedModel("resnet20_cifar10_sclbl.onnx");
        var wrongOut = Path.Combine(_dir, "wrong.onnx");
        var wrong = Processes.RunCli("prune", resnet20, wrongOut, "--scores", file, "--ratio", "0.5");
        Assert.That(wrong.ExitCode, Is.EqualTo(2), wrong.ToString());
        var other = ModelFingerprint.Of(OnnxModel.Load(resnet20));
        Assert.That(wrong.StdErr, Does.Contain(fingerprint.ToString()).And.Contain(other.ToString()).And.Contain(file));
        Assert.That(File.Exists(wrongOut), Is.False, "nothing written");
    }

    [TestCase("{\"groups\": {\"a:0\": [1, 2]}}", "fingerprint")]
    [TestCase("{\"fingerprint\": \"00ff\", \"groups\": {}}", "not a model fingerprint")]
    [TestCase("{\"fingerprint\": \"FP\", \"groups\": {\"a:0\": [1, \"x\"]}}", "'a:0'")]
    [TestCase("[1, 2]", "not a JSON object")]
    [TestCase("{not json", "not JSON")]
    public void AMalformedScoresFileExitsTenNamingTheFile(string content, string reason)
    {
        var resnet20 = TestPaths.SharedModel("resnet20_cifar10_sclbl.onnx");
        var file = Path.Combine(_dir, "bad-scores.json");
        File.WriteAllText(file, content.Replace("FP", ModelFingerprint.Of(OnnxModel.Load(resnet20)).ToString()));
        var r = Processes.RunCli("prune", resnet20, Path.Combine(_dir, "out.onnx"), "--scores", file, "--ratio", "0.5");
        Assert.That(r.ExitCode, Is.EqualTo(10), r.ToString());
        Assert.That(r.StdErr, Does.Contain(file).And.Contain(reason));
    }

    [Test]
    public void NaNWeightsExitElevenNamingTheFileAndTensor()
    {
        var model = OnnxModel.Load(TestPaths.SharedModel("resnet20_cifar10_sclbl.onnx"));
        var weight = model.Graph.Nodes.First(n => n.OpType == "Conv").Input(1)!.Constant!;
        var data = weight.Data;
        data.AsSpan<float>()[5] = float.NaN;
        weight.Data = data;
        var path = Path.Combine(_dir, "nan.onnx");
        model.Save(path);
        var output = Path.Combine(_dir, "out.onnx");
        var r = Processes.RunCli("prune", path, output, "--ratio", "0.5");
        Assert.That(r.ExitCode, Is.EqualTo(11), r.ToString());
        Assert.That(r.StdErr, Does.Contain(path).And.Contain($"'{weight.Name}'").And.Contain("NaN"));
        Assert.That(File.Exists(output), Is.False, "nothing written");
    }

    private sealed class TupleComparer : IEqualityComparer<(string, string[])>
    {
        public bool Equals((string, string[]) a, (string, string[]) b) => a.Item1 == b.Item1 && a.Item2.SequenceEqual(b.Item2);
        public int GetHashCode((string, string[]) t) => t.Item1.GetHashCode();
    }
}
