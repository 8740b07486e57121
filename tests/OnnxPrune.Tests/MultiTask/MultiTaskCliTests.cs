using System.Text.Json;
using NUnit.Framework;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.MultiTask;
using OnnxPrune.Pruning;

namespace OnnxPrune.Tests.MultiTask;

public class MultiTaskCliTests
{
    private static readonly string Model = Path.Combine(TestPaths.RepoRoot, "onnx-models", "fmnist-multitask.onnx");
    private static readonly string Tasks = Path.Combine(TestPaths.RepoRoot, "onnx-models", "fmnist-multitask.tasks.yaml");

    private static (int Code, string Out, string Err) Cli(params string[] args) => Training.TrainingCliTests.Cli(args);

    /// <summary>The acceptance figures: both classifiers well above chance, reconstruction MSE well below the variance of its target.</summary>
    [Test]
    public void EvalWithTasksReportsEveryHeadOfTheEmbeddedModel()
    {
        var (code, stdout, stderr) = Cli("eval", Model, "--data", "fashion-mnist", "--tasks", Tasks, "--json", "--threads", "1");
        Assert.That(code, Is.EqualTo(0), stderr);
        using var json = JsonDocument.Parse(stdout);
        var tasks = json.RootElement.GetProperty("tasks");
        Assert.That(tasks.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "class", "coarse", "reconstruction" }));
        Assert.That(tasks.GetProperty("class").GetProperty("accuracy").GetDouble(), Is.GreaterThan(0.85), "chance: 0.10");
        Assert.That(tasks.GetProperty("coarse").GetProperty("accuracy").GetDouble(), Is.GreaterThan(0.95), "chance: 0.40 (tops)");
        var target = MultiTaskData.Build(FashionMnist.Load(train: false), TaskFile.Load(Tasks)).Targets["reconstruction"].ToFloatArray();
        double mean = target.Average(v => (double)v), variance = target.Average(v => (v - mean) * (v - mean));
        Assert.That(tasks.GetProperty("reconstruction").GetProperty("mse").GetDouble(), Is.LessThan(0.1 * variance), $"input variance {variance:F4}");
    }

    /// <summary>A miniature of the schedule end to end through the verb (one round, a few steps): a valid, smaller model.</summary>
    [TestCase("taylor")]
    [TestCase("cosine")]
    public void PruneMultitaskWritesAValidSmallerModel(string criterion)
    {
        var dir = TestPaths.TempDir();
        var output = Path.Combine(dir, $"mt-{criterion}.onnx");
        var (code, stdout, stderr) = Cli("prune-multitask", Model, output, "--data", "fashion-mnist", "--tasks", Tasks, "--criterion", criterion,
            "--ratio", "0.5", "--prune-every", "2", "--prune-units", "1000", "--steps", "2", "--score-batches", "1", "--batch", "16", "--threads", "1", "--json");
        Assert.That(code, Is.EqualTo(0), stderr);
        using var json = JsonDocument.Parse(stdout);
        var root = json.RootElement;
        long before = root.GetProperty("parametersBefore").GetInt64(), after = root.GetProperty("parametersAfter").GetInt64();
        Assert.That(after, Is.LessThan(before));
        Assert.That(PruningSurgery.Parameters(OnnxModel.Load(output).Graph), Is.EqualTo(after));
        Assert.That(root.GetProperty("after").EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "class", "coarse", "reconstruction" }));
        Assert.That(stderr, Does.Contain("round 1:").And.Contain("class accuracy").And.Contain("reconstruction mse"), "progress per task");
        var py = Processes.RunPython("check_model.py", output);
        Assert.That(py.ExitCode, Is.EqualTo(0), py.ToString());
        (code, stdout, stderr) = Cli("eval", output, "--tasks", Tasks, "--json", "--threads", "1");
        Assert.That(code, Is.EqualTo(0), stderr);
    }

    [Test]
    public void AMalformedTasksFileExitsWithTheDataCodeAndNamesTheLine()
    {
        var path = Path.Combine(TestPaths.TempDir(), "bad.tasks.yaml");
        File.WriteAllText(path, "tasks:\n  - name: a\n    output: logits\n    target: lable\n    loss: cross-entropy\n");
        var (code, _, stderr) = Cli("eval", Model, "--tasks", path);
        Assert.That(code, Is.EqualTo(12), stderr);
        Assert.That(stderr, Does.Contain($"{path}:4:13").And.Contain("unknown target 'lable'"));
    }
}
