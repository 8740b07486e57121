using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using NUnit.Framework;
using OnnxPrune.Cli;
using OnnxPrune.Cli.Commands;
using OnnxPrune.Onnx;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Runtime;

/// <summary>The run and bench verbs, in process (parsing + exit codes) and as the real CLI process.</summary>
[NonParallelizable]
public class CliTests
{
    private string _dir = "";
    private string _model = "";

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"onnxprune-cli-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
        _model = Path.Combine(_dir, "model.onnx");
        File.WriteAllBytes(_model, TestModels.ReluAdd());
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Invoke(params string[] args)
    {
        var root = new RootCommand("test");
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try { return (ExitCodes.Invoke(root, args), stdout.ToString(), stderr.ToString()); }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
    }

    [Test]
    public void Run_with_input_files_prints_stats_and_writes_outputs()
    {
        var x = Tensor.FromArray<float>([-1f, 2f, -3f, 4f, 5f, -6f, 7f, -8f], 2, 4);
        var xPath = Path.Combine(_dir, "x.pb");
        TensorProtoConverter.WriteFile(x, "x", xPath);
        var outDir = Path.Combine(_dir, "out");
        var (code, stdout, stderr) = Invoke("run", _model, "--input", $"x={xPath}", "--output-dir", outDir);
        Assert.That(code, Is.EqualTo(0), stderr);
        // y = Relu(x) + [0.5,-1,2,0]: min -1, max 9, mean 2.625
        Assert.That(stdout, Does.Contain("y: float[2,4]  min=-1 max=9 mean=2.625"));
        var y = TensorProtoConverter.ReadFile(Path.Combine(outDir, "output_0.pb"));
        Assert.That(y.AsSpan<float>().ToArray(), Is.EqualTo(new[] { 0.5f, 1f, 2f, 4f, 5.5f, -1f, 9f, 0f }));
        var z = TensorProtoConverter.ReadFile(Path.Combine(outDir, "output_1.pb"));
        Assert.That(z.AsSpan<float>()[7], Is.EqualTo(64f));
        Assert.That(TensorProtoConverter.ReadFile(Path.Combine(outDir, "input_0.pb")).RawData, Is.EqualTo(x.RawData));
    }

    [Test]
    public void Run_random_with_dim_is_seeded()
    {
        var (code1, out1, err1) = Invoke("run", _model, "--random", "--seed", "5", "--dim", "batch=3");
        var (code2, out2, _) = Invoke("run", _model, "--random", "--seed", "5", "--dim", "x:0=3");
        var (_, out3, _) = Invoke("run", _model, "--random", "--seed", "6", "--dim", "batch=3");
        Assert.That(code1, Is.EqualTo(0), err1);
        Assert.That(code2, Is.EqualTo(0));
        Assert.That(out1, Does.Contain("y: float[3,4]"));
        Assert.That(out2, Is.EqualTo(out1));
        Assert.That(out3, Is.Not.EqualTo(out1));
    }

    [Test]
    public void Run_without_inputs_fails_with_runtime_exit_code_listing_inputs()
    {
        var (code, _, stderr) = Invoke("run", _model);
        Assert.That(code, Is.EqualTo(ExitCodes.Runtime));
        Assert.That(stderr, Does.Contain("x: float[batch,4]"));
    }

    [Test]
    public void Run_invalid_model_fails_with_runtime_exit_code()
    {
        var bad = Path.Combine(_dir, "bad.onnx");
        File.WriteAllBytes(bad, TestModels.UnknownOp());
        var (code, _, stderr) = Invoke("run", bad, "--random");
        Assert.That(code, Is.EqualTo(ExitCodes.Runtime));
        Assert.That(stderr, Does.Contain("NoSuchOperatorXyz"));
    }

    [Test]
    public void Bench_json_reports_latency_fields()
    {
        var (code, stdout, stderr) = Invoke("bench", _model, "--runs", "20", "--warmup", "2", "--threads", "1", "--json", "--dim", "batch=2");
        Assert.That(code, Is.EqualTo(0), stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.That(root.GetProperty("runs").GetInt32(), Is.EqualTo(20));
        Assert.That(root.GetProperty("threads").GetInt32(), Is.EqualTo(1));
        Assert.That(root.GetProperty("model").GetString(), Is.EqualTo(Path.GetFullPath(_model)));
        double p10 = root.GetProperty("p10Ms").GetDouble(), median = root.GetProperty("medianMs").GetDouble(), p90 = root.GetProperty("p90Ms").GetDouble();
        Assert.That(p10, Is.GreaterThan(0));
        Assert.That(median, Is.GreaterThanOrEqualTo(p10));
        Assert.That(p90, Is.GreaterThanOrEqualTo(median));
        Assert.That(root.GetProperty("inputs").GetProperty("x").GetString(), Is.EqualTo("float[2,4]"));
    }

    [Test]
    public void Bench_prints_the_shapes_it_timed_and_warns_about_defaulted_dims()
    {
        var (code, stdout, stderr) = Invoke("bench", _model, "--runs", "2", "--warmup", "0");
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("x [1×4]"));
        Assert.That(stdout, Does.Contain("warning:").And.Contain("batch (x:0)"));
        (code, stdout, stderr) = Invoke("bench", _model, "--runs", "2", "--warmup", "0", "--dim", "batch=3");
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("x [3×4]").And.Not.Contain("warning:"));
    }

    [TestCase("total")]
    [TestCase("past_sequence_length + sequence_length")]
    public void Bench_and_run_random_inputs_fit_dims_tied_by_shape_arithmetic(string maskDim)
    {
        // A KV-cache decoder layer whose attention mask is past + seq long: defaulting every dim to 1 gave ORT a
        // broadcast error (mask 1 vs scores 2); the tied dims now follow the shape engine's relations.
        var path = Path.Combine(TestPaths.TempDir(), "kv.onnx");
        OnnxPrune.Tests.Pruning.VerificationDimsTests.Model(1, maskDim).Save(path);
        var (code, stdout, stderr) = Invoke("bench", path, "--runs", "2", "--warmup", "0");
        Assert.That(code, Is.EqualTo(0), stderr + stdout);
        Assert.That(stdout, Does.Contain("attention_mask [1×1×1×2]"));
        (code, stdout, stderr) = Invoke("run", path, "--random", "--dim", "sequence_length=3", "--dim", "past_sequence_length=4");
        Assert.That(code, Is.EqualTo(0), stderr + stdout);
        if (maskDim == "total")
        {
            (code, _, stderr) = Invoke("bench", path, "--runs", "2", "--warmup", "0", "--dim", "total=5", "--dim", "sequence_length=3", "--dim", "past_sequence_length=4");
            Assert.That(code, Is.EqualTo(2));
            Assert.That(stderr, Does.Contain("total").And.Contain("--dim"));
        }
    }

    [Test]
    public void Bench_text_reports_median_and_throughput()
    {
        var (code, stdout, stderr) = Invoke("bench", _model, "--runs", "10", "--warmup", "1");
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Match(@"median \d+\.\d+ ms, p10 \d+\.\d+ ms, p90 \d+\.\d+ ms"));
        Assert.That(stdout, Does.Match(@"throughput: \d+\.\d runs/s"));
    }

    [Test]
    public void Real_cli_process_runs_and_maps_exit_codes()
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "OnnxPrune.Cli.dll");
        Assert.That(File.Exists(cli), Is.True, cli);
        (int, string) Start(params string[] args)
        {
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add(cli);
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var text = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, text);
        }
        var (ok, text) = Start("run", _model, "--random");
        Assert.That(ok, Is.EqualTo(0), text);
        Assert.That(text, Does.Contain("y: float[1,4]"));
        var (missing, text2) = Start("run", Path.Combine(_dir, "nope.onnx"), "--random");
        Assert.That(missing, Is.EqualTo(ExitCodes.Io), text2);
        // --version names both versions: OnnxPrune's and the loaded ONNX Runtime's (the NuGet package's).
        var (version, text3) = Start("--version");
        Assert.That(version, Is.EqualTo(0), text3);
        Assert.That(text3, Does.Match(@"onnxprune \d+\.\d+").And.Contain($"ONNX Runtime {OrtSessions.RuntimeVersion}"));
        // CUDA on a build or machine without it: one clear runtime error naming the package to use (exit 6).
        var (cuda, text4) = Start("run", _model, "--random", "--provider", "cuda");
        if (OrtSessions.AvailableProviders.Contains("CUDAExecutionProvider") && cuda == 0)
            Assert.That(text4, Does.Contain("y: float[1,4]"), "CUDA is available here: the run must succeed");
        else
        {
            Assert.That(cuda, Is.EqualTo(ExitCodes.Runtime), text4);
            Assert.That(text4, Does.Contain("CUDA").And.Contain("Microsoft.ML.OnnxRuntime.Gpu").And.Contain("OnnxRuntimeFlavor=Gpu"));
        }
    }

    [Test]
    public void Missing_native_library_gives_one_clear_error()
    {
        // The CLI copied without the native library (libonnxruntime*.so from the NuGet package).
        var app = Path.Combine(_dir, "app");
        Directory.CreateDirectory(app);
        foreach (var file in Directory.GetFiles(AppContext.BaseDirectory))
            if (!Path.GetFileName(file).StartsWith("libonnxruntime", StringComparison.Ordinal) && !file.EndsWith(".onnx", StringComparison.Ordinal))
                File.Copy(file, Path.Combine(app, Path.GetFileName(file)));
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(app, "OnnxPrune.Cli.dll"));
        foreach (var a in new[] { "run", _model, "--random" }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var text = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.That(p.ExitCode, Is.EqualTo(ExitCodes.Runtime), text);
        Assert.That(text, Does.Contain("not found").And.Contain("dotnet build").And.Contain("Microsoft.ML.OnnxRuntime"));
    }
}
