using NUnit.Framework;
using OnnxPrune.Data;
using OnnxPrune.MultiTask;
using OnnxPrune.Training;

namespace OnnxPrune.Tests.MultiTask;

public class TaskFileTests
{
    [Test]
    public void TheEmbeddedModelsTasksFileDescribesItsThreeHeads()
    {
        var spec = TaskFile.Load(Path.Combine(TestPaths.RepoRoot, "onnx-models", "fmnist-multitask.tasks.yaml"));
        Assert.That(spec.Tasks.Select(t => t.Name), Is.EqualTo(new[] { "class", "coarse", "reconstruction" }));
        Assert.That(spec.Tasks.Select(t => t.Output), Is.EqualTo(new[] { "logits", "coarse_logits", "reconstruction" }));
        Assert.That(spec.Tasks.Select(t => t.Loss), Is.EqualTo(new[] { LossKind.SoftmaxCrossEntropy, LossKind.SoftmaxCrossEntropy, LossKind.MeanSquaredError }));
        Assert.That(spec.Tasks.Select(t => t.Metric), Is.EqualTo(new[] { TaskMetric.Accuracy, TaskMetric.Accuracy, TaskMetric.Mse }));
        var coarse = spec.Tasks[1].Target;
        Assert.That(coarse.CategoryNames, Is.EqualTo(new[] { "tops", "bottoms-dresses", "footwear", "bags" }));
        // T-shirt, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot
        Assert.That(Enumerable.Range(0, 10).Select(c => coarse.CategoryOfClass![c]), Is.EqualTo(new long[] { 0, 1, 0, 1, 0, 2, 0, 2, 3, 2 }));
        Assert.That((spec.Tasks[2].Target.Height, spec.Tasks[2].Target.Width), Is.EqualTo((14, 14)));
        Assert.That(spec.Losses.Select(l => (l.Output, l.Target)), Is.EqualTo(spec.Tasks.Select(t => ((string?)t.Output, (string?)t.Name))));
    }

    [TestCase("tasks:\n  - name: a\n    output: x: y\n", 3, "bad YAML")]
    [TestCase("tasks:\n  - name: a\n    output: x\n    target: lable\n    loss: ce\n", 4, "unknown target 'lable'")]
    [TestCase("tasks:\n  - name: a\n    output: x\n    target: label\n    loss: mse\n", 4, "cannot read a label target")]
    [TestCase("tasks:\n  - name: a\n    output: x\n    target:\n      categories:\n        p: [0, 1]\n        q: [1]\n    loss: ce\n", 7, "class 1 is in two categories")]
    [TestCase("tasks:\n  - name: a\n    output: x\n    target: label\n    loss: ce\n    wieght: 2\n", 6, "unknown task key 'wieght'")]
    [TestCase("tasks:\n  - name: a\n    target: label\n    loss: ce\n", 2, "lacks 'output'")]
    [TestCase("tasks:\n  - name: a\n    output: x\n    target:\n      reconstruction: [14]\n    loss: mse\n", 5, "reconstruction takes [height, width]")]
    public void MalformedFilesNameTheLineAndReason(string yaml, int line, string reason)
    {
        var e = Assert.Throws<TaskFileException>(() => TaskFile.Parse(yaml, "t.yaml"))!;
        Assert.That(e.Line, Is.EqualTo(line), e.Message);
        Assert.That(e.Message, Does.StartWith($"t.yaml:{line}:").And.Contain(reason));
        Assert.That(e, Is.InstanceOf<OnnxPruneException>());
    }

    [Test]
    public void DataHoldOneTargetPerTask()
    {
        var images = new float[2 * 16];
        for (int i = 0; i < 16; i++) { images[i] = i; images[16 + i] = 1; }
        var set = new ImageDataset("tiny", images, [2, 1], 1, 4, 4, ["x", "y", "z"]);
        var spec = TaskFile.Parse("tasks:\n  - {name: k, output: o1, target: label, loss: ce}\n  - {name: g, output: o2, target: {categories: {p: [0, 2], q: [1]}}, loss: ce}\n  - {name: r, output: o3, target: {reconstruction: [2, 2]}, loss: mse}\n");
        var data = MultiTaskData.Build(set, spec);
        Assert.That(data.Targets["k"].AsSpan<long>().ToArray(), Is.EqualTo(new long[] { 2, 1 }));
        Assert.That(data.Targets["g"].AsSpan<long>().ToArray(), Is.EqualTo(new long[] { 0, 1 }));
        Assert.That(data.Targets["r"].Dims.ToArray(), Is.EqualTo(new long[] { 2, 1, 2, 2 }));
        // 2×2 area means of 0..15 laid out row by row: (0+1+4+5)/4 = 2.5, then 4.5, 10.5, 12.5
        Assert.That(data.Targets["r"].AsSpan<float>().ToArray(), Is.EqualTo(new float[] { 2.5f, 4.5f, 10.5f, 12.5f, 1, 1, 1, 1 }));
        var bad = TaskFile.Parse("tasks:\n  - {name: g, output: o2, target: {categories: {p: [0], q: [1]}}, loss: ce}\n");
        Assert.That(() => MultiTaskData.Build(set, bad), Throws.InstanceOf<UnsupportedModelException>().With.Message.Contain("class 2"));
    }
}
