using OnnxPrune.Data;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Data;

/// <summary>Task data as batches of named inputs and per-head targets.</summary>
public class DataBatchTests
{
    private static ImageDataset Small()
    {
        var images = Enumerable.Range(0, 6 * 4).Select(i => i / 100f).ToArray();
        return new ImageDataset("small", images, [0, 1, 2, 3, 1, 0], 1, 2, 2, ["a", "b", "c", "d"]);
    }

    [Test]
    public void ImageDatasetBatchesCarryImagesAndLabelsUnderTheirKeys()
    {
        var data = Small();
        var batch = data.GetBatch([4, 1]);
        Assert.That(batch.Inputs[ImageDataset.InputKey].AsSpan<float>().ToArray(), Is.EqualTo(data.Image(4).ToArray().Concat(data.Image(1).ToArray())));
        Assert.That(batch.Target(null).AsSpan<long>().ToArray(), Is.EqualTo(new long[] { 1, 1 }));
        Assert.That(batch.Target(ImageDataset.LabelKey).Shape, Is.EqualTo(new long[] { 2 }));
        // A single batch input binds to the model's single data input, whatever their names.
        Assert.That(batch.InputsFor(["input"]).Keys, Is.EqualTo(new[] { "input" }));
        Assert.Throws<UnsupportedModelException>(() => batch.InputsFor(["a", "b"]));
        Assert.That(Assert.Throws<UnsupportedModelException>(() => batch.Target("depth"))!.Message, Does.Contain("'depth'").And.Contain("'label'"));
    }

    [Test]
    public void DerivedTargetsForSeveralHeads()
    {
        var data = Small();
        var coarse = Tensor.FromArray<long>(data.Labels.ToArray().Select(l => l / 2).ToArray(), data.Count);
        var recon = Tensor.FromArray<float>(Enumerable.Range(0, data.Count * 4).Select(i => -i / 10f).ToArray(), data.Count, 1, 2, 2);
        var tasks = TensorDataset.From(data).WithTarget("coarse", coarse).WithTarget("reconstruction", recon);
        Assert.That(tasks.Count, Is.EqualTo(6));
        var batch = tasks.GetBatch([5, 2]);
        Assert.That(batch.Target("label").AsSpan<long>().ToArray(), Is.EqualTo(new long[] { 0, 2 }));
        Assert.That(batch.Target("coarse").AsSpan<long>().ToArray(), Is.EqualTo(new long[] { 0, 1 }));
        Assert.That(batch.Target("reconstruction").AsSpan<float>().ToArray(), Is.EqualTo(new[] { -2.0f, -2.1f, -2.2f, -2.3f, -0.8f, -0.9f, -1.0f, -1.1f }).Within(1e-6));
        Assert.That(batch.Inputs["image"].AsSpan<float>().ToArray(), Is.EqualTo(data.Image(5).ToArray().Concat(data.Image(2).ToArray())));
        Assert.Throws<UnsupportedModelException>(() => batch.Target(null), "several targets: a loss must name its own");
        Assert.Throws<ArgumentException>(() => tasks.WithTarget("bad", Tensor.Zeros(ElementType.Float, 5)));
    }

    [Test]
    public async Task ProvidersYieldBatchesInOrderOrSeededAndBounded()
    {
        var data = Small();
        var inOrder = new List<DataBatch>();
        await foreach (var b in data.GetBatchesAsync()) inOrder.Add(b);
        Assert.That(inOrder, Has.Count.EqualTo(1));
        Assert.That(inOrder[0].Count, Is.EqualTo(6));

        var two = new List<long>();
        await foreach (var b in DataProviders.FromDataset(data, batchSize: 2, maxBatches: 2, shuffleSeed: 3).GetBatchesAsync())
            two.AddRange(b.Target(null).AsSpan<long>().ToArray());
        Assert.That(two, Has.Count.EqualTo(4), "two batches of two");
        var again = new List<long>();
        await foreach (var b in DataProviders.FromDataset(data, 2, 2, 3).GetBatchesAsync()) again.AddRange(b.Target(null).AsSpan<long>().ToArray());
        Assert.That(again, Is.EqualTo(two), "same seed, same batches");
    }
}
