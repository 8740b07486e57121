using System.Text.Json;
using OnnxPrune.Export;
using OnnxPrune.Graph;

namespace OnnxPrune.Tests.Export;

/// <summary>The <c>export</c> verb end to end (child process) and the <see cref="Exporter"/>'s option checks.</summary>
public class ExportCommandTests
{
    private static string Embedded(string name) => Path.Combine(TestPaths.RepoRoot, "onnx-models", name);

    /// <summary>The done-when: BN folded, INT8 static calibrated on Fashion-MNIST, checker-valid, ≤ 0.3× the size,
    /// accuracy within 1 point by the separate <c>eval</c> verb.</summary>
    [Test]
    public void Fold_bn_and_static_int8_of_fmnist_resnet_meets_the_done_when()
    {
        var dir = TestPaths.TempDir();
        var output = Path.Combine(dir, "out.onnx");
        var report = Path.Combine(dir, "report.json");
        var run = Processes.RunCli("export", Embedded("fmnist-resnet.onnx"), output, "--fold-bn", "--int8", "--calibrate", "fashion-mnist",
            "--latency-runs", "5", "--report", report);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());

        var check = Processes.RunPython("check_model.py", output);
        Assert.That(check.ExitCode, Is.EqualTo(0), check.ToString());
        var ops = JsonDocument.Parse(check.StdOut).RootElement.GetProperty("ops").EnumerateArray().Select(o => o.GetString()).ToArray();
        Assert.That(ops, Does.Not.Contain("BatchNormalization"));
        Assert.That(ops, Does.Contain("QuantizeLinear").And.Contain("DequantizeLinear"));
        double ratio = (double)new FileInfo(output).Length / new FileInfo(Embedded("fmnist-resnet.onnx")).Length;
        Assert.That(ratio, Is.LessThanOrEqualTo(0.3));

        double Accuracy(string model)
        {
            var eval = Processes.RunCli("eval", model, "--data", "fashion-mnist", "--json");
            Assert.That(eval.ExitCode, Is.EqualTo(0), eval.ToString());
            return JsonDocument.Parse(eval.StdOut).RootElement.GetProperty("accuracy").GetDouble();
        }
        double before = Accuracy(Embedded("fmnist-resnet.onnx")), after = Accuracy(output);
        Assert.That(Math.Abs(after - before), Is.LessThanOrEqualTo(0.01), $"{before:P2} → {after:P2}");

        var json = JsonDocument.Parse(File.ReadAllText(report)).RootElement;
        Assert.That(json.GetProperty("bytesAfter").GetInt64(), Is.EqualTo(new FileInfo(output).Length));
        Assert.That(json.GetProperty("passes").EnumerateArray().Select(p => p.GetProperty("pass").GetString()), Does.Contain("fold-bn").And.Contain("int8-static"));
        Assert.That(json.GetProperty("equivalence").GetArrayLength(), Is.EqualTo(2), "random and real inputs");
        Assert.That(json.GetProperty("latency").GetArrayLength(), Is.EqualTo(2), "1 thread and all threads");
    }

    [Test]
    public void Fp16_of_the_vit_with_accuracy_check_writes_a_markdown_report()
    {
        var dir = TestPaths.TempDir();
        var output = Path.Combine(dir, "vit16.onnx");
        var report = Path.Combine(dir, "report.md");
        var run = Processes.RunCli("export", Embedded("fmnist-vit.onnx"), output, "--cleanup", "--fp16", "--keep-io-types", "--check", "fashion-mnist",
            "--latency-runs", "3", "--report", report);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        var md = File.ReadAllText(report);
        Assert.That(md, Does.Contain("| fp16 |").And.Contain("Accuracy on fashion-mnist/test (10000 images)"));
        Assert.That((double)new FileInfo(output).Length / new FileInfo(Embedded("fmnist-vit.onnx")).Length, Is.LessThanOrEqualTo(0.52));
        Assert.That(Processes.RunPython("check_model.py", output).ExitCode, Is.EqualTo(0));
    }

    [TestCase(new[] { "--int8" }, 2, "calibration data")]
    [TestCase(new[] { "--keep-io-types" }, 2, "--fp16 only")]
    [TestCase(new[] { "--int8", "--dynamic", "--fp16" }, 2, "exclude each other")]
    [TestCase(new[] { "--calibrate", "fashion-mnist" }, 2, "need --int8")]
    public void Bad_option_combinations_exit_with_the_usage_code_and_write_nothing(string[] options, int code, string message)
    {
        var output = Path.Combine(TestPaths.TempDir(), "out.onnx");
        var run = Processes.RunCli(["export", Embedded("fmnist-resnet.onnx"), output, .. options]);
        Assert.That(run.ExitCode, Is.EqualTo(code), run.ToString());
        Assert.That(run.StdErr, Does.Contain(message));
        Assert.That(File.Exists(output), Is.False);
    }

    [Test]
    public void A_broken_model_or_missing_file_gives_its_exit_code_and_no_output()
    {
        var dir = TestPaths.TempDir();
        var broken = Path.Combine(dir, "broken.onnx");
        File.WriteAllBytes(broken, [1, 2, 3, 4, 5]);
        var output = Path.Combine(dir, "out.onnx");
        var run = Processes.RunCli("export", broken, output, "--fold-bn");
        Assert.That(run.ExitCode, Is.EqualTo(3), run.ToString());
        Assert.That(run.StdErr, Does.Contain("broken.onnx"));
        run = Processes.RunCli("export", Path.Combine(dir, "missing.onnx"), output, "--fold-bn");
        Assert.That(run.ExitCode, Is.EqualTo(7), run.ToString());
        Assert.That(File.Exists(output), Is.False);
    }

    [Test]
    public void A_refusing_pass_leaves_the_source_model_untouched_and_writes_nothing()
    {
        // The embedded ViT converted to float16 once is refused by a second conversion.
        var dir = TestPaths.TempDir();
        var half = Path.Combine(dir, "half.onnx");
        Assert.That(Processes.RunCli("export", Embedded("fmnist-vit.onnx"), half, "--fp16", "--latency-runs", "0", "--seed", "1").ExitCode, Is.EqualTo(0));
        var source = OnnxModel.Load(half);
        var before = source.ToBytes();
        var e = Assert.Throws<UnsupportedModelException>(() => Exporter.Transform(source, new ExportOptions { Float16 = true }));
        Assert.That(e!.Message, Does.Contain("already float16"));
        Assert.That(source.ToBytes(), Is.EqualTo(before));
        var output = Path.Combine(dir, "again.onnx");
        var run = Processes.RunCli("export", half, output, "--fp16", "--latency-runs", "0");
        Assert.That(run.ExitCode, Is.EqualTo(4), run.ToString());
        Assert.That(File.Exists(output), Is.False);
    }
}
