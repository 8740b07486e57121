using System.Text.Json;
using OnnxPrune.Onnx;
using OnnxPrune.Onnx.Proto;

namespace OnnxPrune.Tests.Cli;

/// <summary>The onnxprune CLI, run as a child process: info (text and JSON, checked against the onnx Python
/// package's reading of the same model) and convert (external data options, exit codes).</summary>
public class CliTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = TestPaths.TempDir();

    [TearDown]
    public void TearDown() { try { Directory.Delete(_dir, true); } catch (IOException) { } }

    [TestCaseSource(typeof(TestPaths), nameof(TestPaths.SharedModelNames))]
    public void InfoJsonMatchesPythonOnnx(string file)
    {
        var path = TestPaths.SharedModel(file);
        var cli = Processes.RunCli("info", path, "--json");
        Assert.That(cli.ExitCode, Is.Zero, cli.ToString());
        var py = Processes.RunPython("model_facts.py", path);
        Assert.That(py.ExitCode, Is.Zero, py.ToString());
        using var ours = JsonDocument.Parse(cli.StdOut);
        using var theirs = JsonDocument.Parse(py.StdOut);
        var o = ours.RootElement;
        var t = theirs.RootElement;

        foreach (var key in new[] { "irVersion", "producer", "opsets", "inputs", "outputs", "nodes", "ops", "parameters", "parameterBytes", "parameterBytesByType" })
            Assert.That(o.TryGetProperty(key, out _), Is.True, $"JSON key '{key}'");
        Assert.That(o.GetProperty("irVersion").GetInt64(), Is.EqualTo(t.GetProperty("irVersion").GetInt64()));
        Assert.That(o.GetProperty("nodes").GetInt32(), Is.EqualTo(t.GetProperty("nodes").GetInt32()));
        Assert.That(o.GetProperty("parameters").GetInt64(), Is.EqualTo(t.GetProperty("parameters").GetInt64()));
        Assert.That(o.GetProperty("parameterBytes").GetInt64(), Is.EqualTo(t.GetProperty("parameterBytes").GetInt64()));
        Assert.That(o.GetProperty("parameterBytesByType").EnumerateObject().Sum(p => p.Value.GetInt64()), Is.EqualTo(t.GetProperty("parameterBytes").GetInt64()));
        Assert.That(Dict(o.GetProperty("opsets")), Is.EquivalentTo(Dict(t.GetProperty("opsets"))));
        Assert.That(Dict(o.GetProperty("ops")), Is.EquivalentTo(Dict(t.GetProperty("ops"))));
        Assert.That(o.GetProperty("inputs").EnumerateArray().Select(i => i.GetProperty("name").GetString()),
            Is.EqualTo(t.GetProperty("inputs").EnumerateArray().Select(i => i.GetString())));
        Assert.That(o.GetProperty("outputs").EnumerateArray().Select(i => i.GetProperty("name").GetString()),
            Is.EqualTo(t.GetProperty("outputs").EnumerateArray().Select(i => i.GetString())));
    }

    private static Dictionary<string, long> Dict(JsonElement e) => e.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64());

    [Test]
    public void InfoTextNamesEverything()
    {
        var path = TestPaths.SharedModel("mnist_ortexamples.onnx");
        var r = Processes.RunCli("info", path);
        Assert.That(r.ExitCode, Is.Zero, r.ToString());
        var py = Processes.RunPython("model_facts.py", path);
        using var facts = JsonDocument.Parse(py.StdOut);
        var f = facts.RootElement;
        Assert.That(r.StdOut, Does.Contain($"Model:       {path}"));
        Assert.That(r.StdOut, Does.Contain($"IR version:  {f.GetProperty("irVersion").GetInt64()}"));
        Assert.That(r.StdOut, Does.Contain($"Nodes:       {f.GetProperty("nodes").GetInt32()}"));
        Assert.That(r.StdOut, Does.Contain($"Parameters:  {f.GetProperty("parameters").GetInt64():N0}"));
        foreach (var input in f.GetProperty("inputs").EnumerateArray())
            Assert.That(r.StdOut, Does.Contain($"Input:       {input.GetString()} "));
        foreach (var op in f.GetProperty("ops").EnumerateObject())
            Assert.That(r.StdOut, Does.Match($@"\n  {op.Name}\s+{op.Value.GetInt32()}\r?\n"));
        Assert.That(r.StdOut, Does.Contain("Opsets:      ai.onnx " + f.GetProperty("opsets").GetProperty("").GetInt64()));
    }

    [Test]
    public void InfoOnABrokenFileExitsThree()
    {
        var path = Path.Combine(_dir, "broken.onnx");
        File.WriteAllBytes(path, [0x08, 0x07, 0x3a, 0xff, 0x01]);
        var r = Processes.RunCli("info", path);
        Assert.That(r.ExitCode, Is.EqualTo(3), r.ToString());
        Assert.That(r.StdErr, Does.Contain(path));
        Assert.That(r.StdOut, Is.Empty);
    }

    private string Source()
    {
        var src = Path.Combine(_dir, "src.onnx");
        TestModels.SmallCnn().Save(src);
        return src;
    }

    [Test]
    public void ConvertExternalWithDefaultName()
    {
        var src = Source();
        var outPath = Path.Combine(_dir, "out.onnx");
        var r = Processes.RunCli("convert", src, outPath, "--external-data");
        Assert.That(r.ExitCode, Is.Zero, r.ToString());
        Assert.That(File.Exists(outPath + ".data"), Is.True);
        Assert.That(r.StdOut, Does.Contain("out.onnx.data"));
        AssertExternalTensors(outPath, "out.onnx.data");
        Assert.That(ModelIO.Load(outPath), Is.EqualTo(ModelIO.Load(src)));
    }

    [Test]
    public void ConvertExternalWithFileNameAndThreshold()
    {
        var src = Source();
        var outPath = Path.Combine(_dir, "out.onnx");
        var r = Processes.RunCli("convert", src, outPath, "--external-data", "weights.bin", "--external-threshold", "0");
        Assert.That(r.ExitCode, Is.Zero, r.ToString());
        Assert.That(File.Exists(Path.Combine(_dir, "weights.bin")), Is.True);
        Assert.That(File.Exists(outPath + ".data"), Is.False);
        var raw = ModelIO.Load(outPath, new ModelLoadOptions { LoadExternalData = false });
        Assert.That(raw.Graph.Initializer.Select(t => t.DataLocation), Is.All.EqualTo(TensorProto.Types.DataLocation.External), "threshold 0: every tensor");
        AssertExternalTensors(outPath, "weights.bin");
        Assert.That(ModelIO.Load(outPath), Is.EqualTo(ModelIO.Load(src)));
    }

    [Test]
    public void ConvertBackToInline()
    {
        var src = Source();
        var ext = Path.Combine(_dir, "ext.onnx");
        Assert.That(Processes.RunCli("convert", src, ext, "--external-data").ExitCode, Is.Zero);
        var inline = Path.Combine(_dir, "inline.onnx");
        var r = Processes.RunCli("convert", ext, inline, "--inline");
        Assert.That(r.ExitCode, Is.Zero, r.ToString());
        var raw = ModelIO.Load(inline, new ModelLoadOptions { LoadExternalData = false });
        Assert.That(raw.Graph.Initializer.Any(t => t.DataLocation == TensorProto.Types.DataLocation.External), Is.False);
        Assert.That(File.ReadAllBytes(inline), Is.EqualTo(File.ReadAllBytes(src)), "inline output is byte-identical to the inline source");
    }

    [Test]
    public void ExternalAndInlineTogetherIsAUsageError()
    {
        var src = Source();
        var outPath = Path.Combine(_dir, "out.onnx");
        foreach (var args in new[]
                 {
                     new[] { "convert", src, outPath, "--external-data", "--inline" },
                     new[] { "convert", src, outPath, "--inline", "--external-data", "w.bin" },
                 })
        {
            var r = Processes.RunCli(args);
            Assert.That(r.ExitCode, Is.EqualTo(2), r.ToString());
            Assert.That(r.StdErr, Does.Contain("--external-data and --inline"));
            Assert.That(File.Exists(outPath), Is.False);
        }
        Assert.That(Directory.GetFiles(_dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "src.onnx" }));
    }

    [Test]
    public void DataFileNamedLikeTheModelIsAUsageError()
    {
        // Both files are renamed into place at the end; the same name twice would lose the model or the weights.
        var src = Source();
        var outPath = Path.Combine(_dir, "out.onnx");
        var r = Processes.RunCli("convert", src, outPath, "--external-data", "out.onnx");
        Assert.That(r.ExitCode, Is.EqualTo(2), r.ToString());
        Assert.That(File.Exists(outPath), Is.False);
    }

    [TestCase("convert")]
    [TestCase("info")]
    [TestCase("info", "--no-such-option", "x.onnx")]
    [TestCase("no-such-verb")]
    public void BadArgumentsExitTwo(params string[] args)
    {
        var r = Processes.RunCli(args);
        Assert.That(r.ExitCode, Is.EqualTo(2), r.ToString());
    }

    private static void AssertExternalTensors(string modelPath, string dataFile)
    {
        var raw = ModelIO.Load(modelPath, new ModelLoadOptions { LoadExternalData = false });
        var external = raw.Graph.Initializer.Where(t => t.DataLocation == TensorProto.Types.DataLocation.External).ToArray();
        Assert.That(external, Is.Not.Empty);
        foreach (var t in external)
            Assert.That(t.ExternalData.Single(e => e.Key == "location").Value, Is.EqualTo(dataFile));
    }
}
