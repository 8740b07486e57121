using OnnxPrune.Data;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Data;

public class FashionMnistTests
{
    private static ImageDataset? _train, _test;
    private static ImageDataset Train => _train ??= FashionMnist.Load(train: true);
    private static ImageDataset Test => _test ??= FashionMnist.Load(train: false);

    [Test]
    public void LoadsBothSplitsWithBalancedClasses()
    {
        // Published facts about Fashion-MNIST: 60,000 + 10,000 images of 28×28, 6,000 / 1,000 per class.
        Assert.That(Train.Count, Is.EqualTo(60000));
        Assert.That(Test.Count, Is.EqualTo(10000));
        Assert.That((Train.Channels, Train.Height, Train.Width), Is.EqualTo((1, 28, 28)));
        var perClass = new int[10];
        foreach (var l in Train.Labels) perClass[l]++;
        Assert.That(perClass, Is.All.EqualTo(6000));
        perClass = new int[10];
        foreach (var l in Test.Labels) perClass[l]++;
        Assert.That(perClass, Is.All.EqualTo(1000));
    }

    [Test]
    public void PixelsAreScaledToUnitRange()
    {
        float min = float.MaxValue, max = float.MinValue;
        for (int i = 0; i < 100; i++)
            foreach (var p in Test.Image(i)) { min = Math.Min(min, p); max = Math.Max(max, p); }
        Assert.That(min, Is.EqualTo(0f));
        Assert.That(max, Is.EqualTo(1f));
    }

    [Test]
    public void ClassSubsetIsRelabelledInTheGivenOrder()
    {
        var task = Test.SelectClasses([7, 0, 3]);
        Assert.That(task.Count, Is.EqualTo(3000));
        Assert.That(task.ClassNames, Is.EqualTo(new[] { "Sneaker", "T-shirt/top", "Dress" }));
        // Image k of the task is the k-th test image whose label is in {7,0,3}; its new label follows the order given.
        var originals = Enumerable.Range(0, Test.Count).Where(i => Test.Label(i) is 7 or 0 or 3).ToArray();
        for (int k = 0; k < task.Count; k += 97)
        {
            long expected = Test.Label(originals[k]) switch { 7 => 0, 0 => 1, _ => 2 };
            Assert.That(task.Label(k), Is.EqualTo(expected));
            Assert.That(task.Image(k).SequenceEqual(Test.Image(originals[k])), Is.True);
        }
    }

    [Test]
    public void BadClassListsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => Test.SelectClasses([1, 1]));
        Assert.Throws<ArgumentException>(() => Test.SelectClasses([10]));
        Assert.Throws<ArgumentException>(() => Test.SelectClasses([]));
    }

    [Test]
    public void MissingFolderSaysHowToFixIt()
    {
        var e = Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(true, "/nonexistent-folder"));
        Assert.That(e!.Message, Does.Contain("dataset-fashion-mnist").And.Contain(FashionMnist.FolderVariable));
    }
}

public class DatasetTests
{
    private static ImageDataset Synthetic(int n, int classes, int h = 4, int w = 5)
    {
        var images = new float[n * h * w];
        for (int i = 0; i < images.Length; i++) images[i] = i;
        var labels = Enumerable.Range(0, n).Select(i => (long)(i % classes)).ToArray();
        return new ImageDataset("synthetic", images, labels, 1, h, w, Enumerable.Range(0, classes).Select(c => $"c{c}").ToArray());
    }

    [Test]
    public void SplitIsDisjointAndComplete()
    {
        var data = Synthetic(100, 4);
        var (a, b) = data.Split(0.8, seed: 3);
        Assert.That(a.Count + b.Count, Is.EqualTo(100));
        Assert.That(a.Count, Is.EqualTo(80));
        var firstPixels = new HashSet<float>();
        for (int i = 0; i < a.Count; i++) firstPixels.Add(a.Image(i)[0]);
        for (int i = 0; i < b.Count; i++) Assert.That(firstPixels.Add(b.Image(i)[0]), Is.True, "an image is in both splits");
    }

    [Test]
    public void SamplerIsDeterministicPerSeedAndCoversAnEpoch()
    {
        var data = Synthetic(30, 3);
        var s1 = new BatchSampler(data, 10, seed: 42);
        var s2 = new BatchSampler(data, 10, seed: 42);
        var s3 = new BatchSampler(data, 10, seed: 43);
        var seen = new HashSet<float>();
        bool differs = false;
        for (int b = 0; b < 3; b++)
        {
            var (x1, y1) = s1.Next();
            var (x2, y2) = s2.Next();
            var (x3, _) = s3.Next();
            Assert.That(x1.AsSpan<float>().SequenceEqual(x2.AsSpan<float>()) && y1.AsSpan<long>().SequenceEqual(y2.AsSpan<long>()), Is.True);
            differs |= !x1.AsSpan<float>().SequenceEqual(x3.AsSpan<float>());
            Assert.That(x1.Shape, Is.EqualTo(new long[] { 10, 1, 4, 5 }));
            for (int i = 0; i < 10; i++) seen.Add(x1.AsSpan<float>()[i * 20]);
        }
        Assert.That(seen, Has.Count.EqualTo(30), "one epoch visits every image once");
        Assert.That(differs, Is.True, "another seed gives another order");
    }

    [Test]
    public void FlipMirrorsAndCropShiftsWithZeroPadding()
    {
        var data = Synthetic(1, 1, h: 3, w: 3);
        // With a flip-only augmentation, every batch is either the image or its mirror.
        var flips = new BatchSampler(data, 1, seed: 1, shuffle: false, new Augmentation { HorizontalFlip = true });
        var original = data.Image(0).ToArray();
        var mirrored = new float[] { 2, 1, 0, 5, 4, 3, 8, 7, 6 };
        int mirroredCount = 0;
        for (int i = 0; i < 40; i++)
        {
            var x = flips.Next().Images.AsSpan<float>().ToArray();
            if (x.SequenceEqual(mirrored)) mirroredCount++;
            else Assert.That(x, Is.EqualTo(original));
        }
        Assert.That(mirroredCount, Is.InRange(5, 35));

        // With padding 1, each output is the image shifted by at most one pixel with zeros coming in.
        var crops = new BatchSampler(data, 1, seed: 2, shuffle: false, new Augmentation { RandomCropPadding = 1 });
        for (int i = 0; i < 40; i++)
        {
            var x = crops.Next().Images.AsSpan<float>().ToArray();
            bool matchesSomeShift = false;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++)
                {
                    bool ok = true;
                    for (int y = 0; y < 3; y++)
                        for (int xx = 0; xx < 3; xx++)
                        {
                            int sy = y + dy, sx = xx + dx;
                            float expected = sy is >= 0 and < 3 && sx is >= 0 and < 3 ? original[sy * 3 + sx] : 0f;
                            ok &= x[y * 3 + xx] == expected;
                        }
                    matchesSomeShift |= ok;
                }
            Assert.That(matchesSomeShift, Is.True);
        }
    }

    [Test]
    public void EvaluationPassKeepsOrderAndEndsWithAPartialBatch()
    {
        var data = Synthetic(25, 5);
        var batches = new BatchSampler(data, 10, seed: 0, shuffle: false).Epochs().ToList();
        Assert.That(batches.Select(b => b.Labels.Shape[0]), Is.EqualTo(new long[] { 10, 10, 5 }));
        Assert.That(batches[2].Labels.AsSpan<long>().ToArray(), Is.EqualTo(new long[] { 0, 1, 2, 3, 4 }));
    }
}

public class NpyFileTests
{
    [Test]
    public void RoundTripsAndNumpyReadsWhatWeWrite()
    {
        var dir = TestPaths.TempDir();
        var path = Path.Combine(dir, "t.npy");
        var values = Enumerable.Range(0, 24).Select(i => i * 0.5f - 3).ToArray();
        NpyFile.Write(path, Tensor.FromArray<float>(values, 2, 3, 4));
        var back = NpyFile.Read(path);
        Assert.That(back.Shape, Is.EqualTo(new long[] { 2, 3, 4 }));
        Assert.That(back.AsSpan<float>().ToArray(), Is.EqualTo(values));

        // Independent check with NumPy (Debian's python3-numpy comes with python3-onnx).
        var check = Processes.RunPythonCode(
            "import sys, numpy as n; a=n.load(sys.argv[1]); print(a.shape, a.dtype, float(a.sum()))", path);
        Assert.That(check.ExitCode, Is.Zero, check.StdErr);
        Assert.That(check.StdOut.Trim(), Is.EqualTo($"(2, 3, 4) float32 {values.Sum():0.0}"));

        // And we read what NumPy writes (int64, 1-D).
        var npPath = Path.Combine(dir, "np.npy");
        var save = Processes.RunPythonCode("import sys, numpy as n; n.save(sys.argv[1], n.arange(7, dtype=n.int64) * 3)", npPath);
        Assert.That(save.ExitCode, Is.Zero, save.StdErr);
        Assert.That(NpyFile.Read(npPath).AsSpan<long>().ToArray(), Is.EqualTo(new long[] { 0, 3, 6, 9, 12, 15, 18 }));
    }

    [Test]
    public void RejectsNonNpyFiles()
    {
        var path = Path.Combine(TestPaths.TempDir(), "bad.npy");
        File.WriteAllBytes(path, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        Assert.Throws<DataFormatException>(() => NpyFile.Read(path));
    }
}
