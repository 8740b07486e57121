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
    internal static (int Code, string Out, string Err) Cli(params string[] args)
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
    public void NpyFolderDataTrainsAndEvaluatesLikeTheImagesItHolds()
    {
        var dir = TestPaths.TempDir();
        var data = Path.Combine(dir, "data");
        Directory.CreateDirectory(data);
        OnnxPrune.Tests.Data.NpyImageSetTests.WriteFashionSubset(data, train: true, 256);
        OnnxPrune.Tests.Data.NpyImageSetTests.WriteFashionSubset(data, train: false, 300);
        var model = Path.Combine(TestPaths.RepoRoot, "onnx-models", "fmnist-resnet.onnx");

        var (code, stdout, stderr) = Cli("eval", model, "--data", "npy:" + data, "--json", "--threads", "1");
        Assert.That(code, Is.EqualTo(0), stderr);
        using (var json = JsonDocument.Parse(stdout))
        {
            Assert.That(json.RootElement.GetProperty("images").GetInt32(), Is.EqualTo(300));
            var test = FashionMnist.Load(train: false);
            var first300 = new ImageDataset("first 300", test.ImagesTensor(Enumerable.Range(0, 300).ToArray()).ToFloatArray(),
                test.LabelsTensor(Enumerable.Range(0, 300).ToArray()).AsSpan<long>().ToArray(), 1, 28, 28, test.ClassNames);
            Assert.That(json.RootElement.GetProperty("accuracy").GetDouble(), Is.EqualTo(Evaluator.Evaluate(OnnxModel.Load(model), first300).Accuracy));
        }

        var tuned = Path.Combine(dir, "tuned.onnx");
        (code, _, stderr) = Cli("finetune", model, tuned, "--data", "npy:" + data, "--steps", "4", "--batch", "32", "--threads", "1");
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(File.Exists(tuned));

        // Images of another size: exit code 4 (unsupported), naming the model input, nothing written.
        var other = Path.Combine(dir, "big");
        Directory.CreateDirectory(other);
        foreach (var split in new[] { "train", "test" })
        {
            NpyFile.Write(Path.Combine(other, $"{split}_images.npy"), OnnxPrune.Tensors.Tensor.Zeros(OnnxPrune.Tensors.ElementType.UInt8, 4, 32, 32));
            NpyFile.Write(Path.Combine(other, $"{split}_labels.npy"), OnnxPrune.Tensors.Tensor.FromArray<long>([0, 1, 2, 9], 4));
        }
        var refused = Path.Combine(dir, "refused.onnx");
        (code, _, stderr) = Cli("finetune", model, refused, "--data", "npy:" + other, "--steps", "2", "--threads", "1");
        Assert.That(code, Is.EqualTo(4), stderr);
        Assert.That(stderr, Does.Contain("'input'").And.Contain("1×32×32"));
        Assert.That(File.Exists(refused), Is.False);

        // A corrupt labels file: the data-file exit code (12; was 7, the I/O code, before data errors had their own) naming the file.
        File.WriteAllBytes(Path.Combine(other, "test_labels.npy"), [1, 2, 3]);
        (code, _, stderr) = Cli("eval", model, "--data", "npy:" + other);
        Assert.That(code, Is.EqualTo(OnnxPrune.Cli.ExitCodes.BadData), stderr);
        Assert.That(stderr, Does.Contain("test_labels.npy"));
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
