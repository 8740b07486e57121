using System.Reflection;
using System.Text.Json;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Training;

namespace OnnxPrune.Tests.Training;

/// <summary>The finetune and eval verbs, run through the CLI's entry point.</summary>
[NonParallelizable] // redirects Console
public class TrainingCliTests
{
    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var entry = Assembly.Load("OnnxPrune.Cli").EntryPoint ?? throw new InvalidOperationException("no entry point");
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        using var output = new StringWriter();
        using var error = new StringWriter();
        Console.SetOut(output);
        Console.SetError(error);
        try
        {
            var code = (int)entry.Invoke(null, [args])!;
            return (code, output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
    }

    /// <summary>
    /// The acceptance figures for the embedded models, through the verb a user runs; the committed file's
    /// metadata (written by tools/TrainEmbeddedModels from its own evaluation) must agree with it.
    /// </summary>
    [TestCase("fmnist-resnet.onnx", 0.92)]
    [TestCase("fmnist-vit.onnx", 0.88)]
    public void EvalOfTheEmbeddedModelOnTheFullTestSplitMeetsItsTarget(string name, double target)
    {
        var path = Path.Combine(TestPaths.RepoRoot, "onnx-models", name);
        var (code, stdout, stderr) = Cli("eval", path, "--data", "fashion-mnist", "--json");
        Assert.That(code, Is.EqualTo(0), stderr);
        using var json = JsonDocument.Parse(stdout);
        Assert.That(json.RootElement.GetProperty("images").GetInt32(), Is.EqualTo(10_000));
        double accuracy = json.RootElement.GetProperty("accuracy").GetDouble();
        Assert.That(accuracy, Is.GreaterThanOrEqualTo(target));
        var recorded = OnnxModel.Load(path).Metadata["onnxprune.test_accuracy"];
        Assert.That(accuracy, Is.EqualTo(double.Parse(recorded, System.Globalization.CultureInfo.InvariantCulture)).Within(1e-4));
    }

    [Test]
    public void FinetuneThenEvalReportsTheTunedAccuracyOnTheClassSubset()
    {
        var dir = TestPaths.TempDir();
        var input = Path.Combine(dir, "tiny.onnx");
        var output = Path.Combine(dir, "tuned.onnx");
        TrainerTests.TinyCnn().Save(input);

        var (code, stdout, stderr) = Cli("finetune", input, output, "--data", "fashion-mnist", "--classes", "1,7", "--steps", "15",
            "--batch", "32", "--lr", "0.05", "--recalibrate-bn", "2", "--seed", "4", "--threads", "1");
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stderr, Does.Contain("recalibrated 1 BatchNormalization layer(s) from 64 images"));
        Assert.That(stderr, Does.Contain("step 15/15"));
        Assert.That(stdout, Does.Contain("15 steps"));

        (code, stdout, stderr) = Cli("eval", output, "--classes", "1,7", "--json", "--threads", "1");
        Assert.That(code, Is.EqualTo(0), stderr);
        using var json = JsonDocument.Parse(stdout);
        double accuracy = json.RootElement.GetProperty("accuracy").GetDouble();
        Assert.That(json.RootElement.GetProperty("images").GetInt32(), Is.EqualTo(2000), "1,000 test images per class");

        // The same number computed by the library on the written model, with labels kept as class ids 1 and 7.
        var test = TaskData.ForTask(FashionMnist.Load(train: false), [1, 7], 10);
        Assert.That(test.Labels.ToArray().Distinct().Order(), Is.EqualTo(new long[] { 1, 7 }));
        Assert.That(accuracy, Is.EqualTo(Evaluator.Evaluate(OnnxModel.Load(output), test).Accuracy));
        Assert.That(accuracy, Is.GreaterThan(0.5), "15 steps on two very different classes beat chance");
    }

    [Test]
    public void DivergedFinetuneExitsNineAndWritesNothing()
    {
        var dir = TestPaths.TempDir();
        var input = Path.Combine(dir, "tiny.onnx");
        var output = Path.Combine(dir, "diverged.onnx");
        TrainerTests.TinyCnn().Save(input);
        var (code, _, stderr) = Cli("finetune", input, output, "--steps", "30", "--batch", "16", "--lr", "1000000",
            "--bn", "frozen", "--seed", "1", "--threads", "1");
        Assert.That(code, Is.EqualTo(9), stderr);
        Assert.That(stderr, Does.Contain("training diverged").And.Contain("nothing was written"));
        Assert.That(File.Exists(output), Is.False);
    }

    [Test]
    public void UnknownDataSetIsAUsageError()
    {
        var dir = TestPaths.TempDir();
        var input = Path.Combine(dir, "tiny.onnx");
        TrainerTests.TinyCnn().Save(input);
        var (code, _, stderr) = Cli("eval", input, "--data", "cifar-1000");
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr, Does.Contain("Unknown data set 'cifar-1000'"));
    }
}
