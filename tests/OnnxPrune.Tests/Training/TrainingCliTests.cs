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
    /// The issue's acceptance figures for the embedded models, through the verb a user runs; the committed file's
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

    /// <summary>The embedded ResNet re-declared as most exports are: batch fixed to 1, Flatten written as Reshape [1, −1].</summary>
    public static OnnxModel FixedBatchResNet()
    {
        var model = OnnxModel.Load(Path.Combine(TestPaths.RepoRoot, "onnx-models", "fmnist-resnet.onnx"));
        var g = model.Graph;
        foreach (var flatten in g.Nodes.Where(n => n.OpType == "Flatten").ToArray())
        {
            var reshape = g.AddNode("Reshape", [flatten.Input(0), g.AddInitializer(g.UniqueName("flatten_shape"), OnnxPrune.Tensors.Tensor.FromArray<long>([1, -1], 2)).Value],
                [flatten.Output(0)!.Name + "_reshaped"], index: g.Nodes.ToList().IndexOf(flatten));
            g.ReplaceAllUses(flatten.Output(0)!, reshape.Output(0)!);
            g.RemoveNode(flatten);
        }
        foreach (var v in g.DataInputs.Concat(g.Outputs)) v.Shape = [new Dim(1), .. v.Shape!.Skip(1)];
        foreach (var v in g.Values) if (!v.IsGraphInput && !v.IsGraphOutput && v.Initializer is null && v.HasType) v.Shape = null;
        return model;
    }

    [Test]
    public void FinetuneOfAFixedBatchOneExportTrainsAtBatchEightAndKeepsItsInterface()
    {
        var dir = TestPaths.TempDir();
        var input = Path.Combine(dir, "resnet-b1.onnx");
        var output = Path.Combine(dir, "tuned.onnx");
        var fixedModel = FixedBatchResNet();
        Assert.That(fixedModel.Graph.Nodes.Any(n => n.OpType == "Reshape" && n.Input(1)!.Constant!.Data.ToInt64Array()[0] == 1));
        fixedModel.Save(input);

        var (code, stdout, stderr) = Cli("finetune", input, output, "--classes", "0,3,7", "--steps", "6", "--batch", "8", "--threads", "1", "--progress-interval", "3");
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stderr, Does.Contain("step 6/6"));
        Assert.That(stdout, Does.Contain("6 steps"));
        var tuned = OnnxModel.Load(output);
        Assert.That(tuned.Graph.DataInputs.Single().Shape![0].Value, Is.EqualTo(1), "the saved model keeps the fixed batch");
        Assert.That(tuned.Graph.Nodes.Select(n => n.OpType), Is.EqualTo(fixedModel.Graph.Nodes.Select(n => n.OpType)));
        Assert.That(tuned.Graph.Initializers.Single(c => c.Name == fixedModel.Graph.Initializers.First(i => i.ElementType == OnnxPrune.Tensors.ElementType.Float && i.ElementCount > 100).Name).Data.ToFloatArray(),
            Is.Not.EqualTo(fixedModel.Graph.Initializers.First(i => i.ElementType == OnnxPrune.Tensors.ElementType.Float && i.ElementCount > 100).Data.ToFloatArray()), "weights trained");

        var free = Path.Combine(dir, "free.onnx");
        (code, _, stderr) = Cli("finetune", input, free, "--classes", "0,3,7", "--steps", "2", "--batch", "8", "--threads", "1", "--batch-free");
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(OnnxModel.Load(free).Graph.DataInputs.Single().Shape![0].Param, Is.EqualTo("batch"), "--batch-free writes a symbolic batch");
    }

    /// <summary>A fixed-batch-1 RGB classifier: Conv(3→4, 3×3) → Relu → Reshape [1, −1] → Gemm(→ 6 logits).</summary>
    private static OnnxModel RgbClassifier(int seed)
    {
        var r = new Random(seed);
        float[] W(int n, float scale) => Enumerable.Range(0, n).Select(_ => (r.NextSingle() * 2 - 1) * scale).ToArray();
        var b = new GraphBuilder(opset: 17);
        var x = b.Input("pixels", OnnxPrune.Tensors.ElementType.Float, 1, 3, 12, 12);
        var h = b.Relu(b.Conv(x, b.Initializer("conv.w", W(108, 0.4f), 4, 3, 3, 3), b.Initializer("conv.b", W(4, 0.1f), 4), strides: [2, 2], pads: [1, 1, 1, 1]));
        var logits = b.Gemm(b.Reshape(h, 1, -1), b.Initializer("fc.w", W(6 * 144, 0.3f), 6, 144), b.Initializer("fc.b", W(6, 0.1f), 6), transB: true);
        b.Output(logits, OnnxPrune.Tensors.ElementType.Float, 1, 6);
        return b.Build();
    }

    [Test]
    public void FinetuneWithATeacherOnAnImageFolderDistilsWithoutLabelsAndLowersTheGap()
    {
        var dir = TestPaths.TempDir();
        var (teacher, student, output) = (Path.Combine(dir, "teacher.onnx"), Path.Combine(dir, "student.onnx"), Path.Combine(dir, "tuned.onnx"));
        RgbClassifier(1).Save(teacher);
        RgbClassifier(2).Save(student);
        var images = DistillationTests.WriteImages(15, 20, 16);

        var (code, stdout, stderr) = Cli("finetune", student, output, "--teacher", teacher, "--data", "images:" + images, "--steps", "40",
            "--batch", "4", "--optimizer", "adamw", "--lr", "0.01", "--threads", "1");
        Assert.That(code, Is.EqualTo(0), stderr);
        var m = System.Text.RegularExpressions.Regex.Match(stdout, @"distilled (\S+); mean squared gap to the teacher on 3 held-out images ([0-9.eE+-]+) → ([0-9.eE+-]+)");
        Assert.That(m.Success, stdout);
        Assert.That(m.Groups[1].Value, Is.EqualTo(OnnxModel.Load(teacher).Graph.Outputs[0].Name));
        double before = double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        double after = double.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(after, Is.LessThan(before * 0.8), "logits [1, 6] distil by temperature KL; the gap is measured as MSE");
        Assert.That(OnnxModel.Load(output).Graph.DataInputs.Single().Shape![0].Value, Is.EqualTo(1));

        // Without a teacher an image folder has nothing to learn from: bad arguments (2), nothing written.
        var refused = Path.Combine(dir, "refused.onnx");
        (code, _, stderr) = Cli("finetune", student, refused, "--data", "images:" + images, "--steps", "2");
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr, Does.Contain("teacher"));
        Assert.That(File.Exists(refused), Is.False);
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
