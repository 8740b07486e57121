using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Tensors;
using OnnxPrune.Training;

namespace OnnxPrune.Tests.Data;

/// <summary>Labelled images from a folder of .npy files (<c>--data npy:FOLDER</c>).</summary>
public class NpyImageSetTests
{
    /// <summary>Writes the first <paramref name="count"/> images of a Fashion-MNIST split as uint8 [N,28,28] + int64 labels.</summary>
    internal static void WriteFashionSubset(string folder, bool train, int count)
    {
        var source = FashionMnist.Load(train);
        var pixels = new byte[count * 28 * 28];
        var labels = new long[count];
        for (int i = 0; i < count; i++)
        {
            var image = source.Image(i);
            for (int p = 0; p < image.Length; p++) pixels[i * 784 + p] = (byte)MathF.Round(image[p] * 255f);
            labels[i] = source.Label(i);
        }
        var split = train ? "train" : "test";
        NpyFile.Write(Path.Combine(folder, $"{split}_images.npy"), Tensor.FromArray<byte>(pixels, count, 28, 28));
        NpyFile.Write(Path.Combine(folder, $"{split}_labels.npy"), Tensor.FromArray<long>(labels, count));
    }

    [Test]
    public void Uint8ImagesMatchTheFashionMnistPixelsTheyCameFrom()
    {
        var dir = TestPaths.TempDir();
        WriteFashionSubset(dir, train: true, 50);
        WriteFashionSubset(dir, train: false, 20);
        var loaded = NpyImageSet.Load(dir, train: false);
        var original = FashionMnist.Load(train: false);
        Assert.That((loaded.Count, loaded.Channels, loaded.Height, loaded.Width), Is.EqualTo((20, 1, 28, 28)));
        for (int i = 0; i < 20; i++)
        {
            Assert.That(loaded.Image(i).ToArray(), Is.EqualTo(original.Image(i).ToArray()), $"image {i}");
            Assert.That(loaded.Label(i), Is.EqualTo(original.Label(i)));
        }
        Assert.That(loaded.Name, Does.EndWith("/test"));
    }

    [Test]
    public void FloatChannelImagesAndClassNamesFromClassesTxt()
    {
        var dir = TestPaths.TempDir();
        var r = new Random(2);
        foreach (var split in new[] { "train", "test" })
        {
            var pixels = Enumerable.Range(0, 4 * 3 * 5 * 6).Select(_ => r.NextSingle() * 2 - 1).ToArray();
            NpyFile.Write(Path.Combine(dir, $"{split}_images.npy"), Tensor.FromArray<float>(pixels, 4, 3, 5, 6));
            NpyFile.Write(Path.Combine(dir, $"{split}_labels.npy"), Tensor.FromArray<int>([0, 1, 1, 0], 4));
        }
        File.WriteAllLines(Path.Combine(dir, "classes.txt"), ["cat", "dog", "bird"]);
        var train = TaskData.Load("npy:" + dir, train: true);
        Assert.That((train.Channels, train.Height, train.Width), Is.EqualTo((3, 5, 6)));
        Assert.That(train.ClassNames, Is.EqualTo(new[] { "cat", "dog", "bird" }));
        var written = NpyFile.Read(Path.Combine(dir, "train_images.npy")).AsSpan<float>().ToArray();
        Assert.That(train.Image(3).ToArray(), Is.EqualTo(written[(3 * 90)..(4 * 90)]), "float pixels are taken as they are");
    }

    [Test]
    public void ClassCountCoversBothSplits()
    {
        var dir = TestPaths.TempDir();
        NpyFile.Write(Path.Combine(dir, "train_images.npy"), Tensor.Zeros(ElementType.UInt8, 3, 4, 4));
        NpyFile.Write(Path.Combine(dir, "train_labels.npy"), Tensor.FromArray<long>([0, 1, 1], 3));
        NpyFile.Write(Path.Combine(dir, "test_images.npy"), Tensor.Zeros(ElementType.UInt8, 2, 4, 4));
        NpyFile.Write(Path.Combine(dir, "test_labels.npy"), Tensor.FromArray<long>([4, 0], 2));
        Assert.That(NpyImageSet.Load(dir, train: true).ClassCount, Is.EqualTo(5), "the test split's id 4 counts for the train split too");
        Assert.That(NpyImageSet.Load(dir, train: false).ClassCount, Is.EqualTo(5));
    }

    [Test]
    public void BadFoldersAreTypedErrorsNamingTheFile()
    {
        var dir = TestPaths.TempDir();
        var missing = Assert.Throws<FileNotFoundException>(() => NpyImageSet.Load(dir, train: true))!;
        Assert.That(missing.Message, Does.Contain("train_images.npy").And.Contain("test_labels.npy"));

        NpyFile.Write(Path.Combine(dir, "train_images.npy"), Tensor.Zeros(ElementType.UInt8, 3, 4, 4));
        NpyFile.Write(Path.Combine(dir, "train_labels.npy"), Tensor.FromArray<long>([0, 1], 2));
        var count = Assert.Throws<DataFormatException>(() => NpyImageSet.Load(dir, train: true))!;
        Assert.That(count.Message, Does.Contain("train_labels.npy").And.Contain("[3]"));

        NpyFile.Write(Path.Combine(dir, "train_labels.npy"), Tensor.FromArray<float>([0, 1, 1], 3));
        Assert.That(Assert.Throws<DataFormatException>(() => NpyImageSet.Load(dir, train: true))!.Message, Does.Contain("integer class ids"));

        NpyFile.Write(Path.Combine(dir, "train_labels.npy"), Tensor.FromArray<long>([0, -1, 1], 3));
        Assert.That(Assert.Throws<DataFormatException>(() => NpyImageSet.Load(dir, train: true))!.Message, Does.Contain("-1"));

        NpyFile.Write(Path.Combine(dir, "train_images.npy"), Tensor.Zeros(ElementType.UInt8, 3, 16));
        NpyFile.Write(Path.Combine(dir, "train_labels.npy"), Tensor.FromArray<long>([0, 1, 1], 3));
        Assert.That(Assert.Throws<DataFormatException>(() => NpyImageSet.Load(dir, train: true))!.Message, Does.Contain("train_images.npy"));

        Assert.Throws<ArgumentException>(() => TaskData.Load("npy", train: true), "npy needs its folder");
    }

    [Test]
    public void ImagesOfAnotherSizeThanTheModelInputAreRejectedBeforeRunning()
    {
        var dir = TestPaths.TempDir();
        foreach (var split in new[] { "train", "test" })
        {
            NpyFile.Write(Path.Combine(dir, $"{split}_images.npy"), Tensor.Zeros(ElementType.UInt8, 8, 32, 32));
            NpyFile.Write(Path.Combine(dir, $"{split}_labels.npy"), Tensor.FromArray<long>([0, 1, 2, 3, 4, 5, 6, 9], 8));
        }
        var data = NpyImageSet.Load(dir, train: true);
        var model = OnnxModel.Load(Path.Combine(TestPaths.RepoRoot, "onnx-models", "fmnist-resnet.onnx"));
        var e = Assert.Throws<UnsupportedModelException>(() => Evaluator.Evaluate(model, data))!;
        Assert.That(e.Message, Does.Contain("'input'").And.Contain("1×32×32"));
        using var trainer = new Trainer(model, new TrainerOptions { BatchSize = 4, Steps = 1 });
        Assert.ThrowsAsync<UnsupportedModelException>(() => trainer.TrainAsync(data));
        Assert.Throws<UnsupportedModelException>(() => BatchNormRecalibrator.Recalibrate(model, data, 1, 4));
    }
}
