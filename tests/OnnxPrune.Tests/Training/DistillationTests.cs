using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Runtime;
using OnnxPrune.Training;
using StbImageWriteSharp;

namespace OnnxPrune.Tests.Training;

/// <summary>Label-free fine-tuning by distillation on an image folder, and the image-folder data it reads.</summary>
public class DistillationTests
{
    /// <summary>Writes <paramref name="count"/> seeded PNGs (smooth colour fields with a bright rectangle) of w×h.</summary>
    public static string WriteImages(int count, int w, int h, int seed = 1)
    {
        var dir = Path.Combine(TestPaths.TempDir(), "images");
        Directory.CreateDirectory(dir);
        var r = new Random(seed);
        for (int i = 0; i < count; i++)
        {
            var rgb = new byte[w * h * 3];
            int x0 = r.Next(w / 2), y0 = r.Next(h / 2), x1 = x0 + 4 + r.Next(w / 2 - 4), y1 = y0 + 4 + r.Next(h / 2 - 4);
            var (a, b, c) = (r.Next(256), r.Next(256), r.Next(256));
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    bool box = x >= x0 && x < x1 && y >= y0 && y < y1;
                    int p = (y * w + x) * 3;
                    rgb[p] = (byte)(box ? 250 : (a + x * 2) % 256);
                    rgb[p + 1] = (byte)(box ? 240 : (b + y * 3) % 256);
                    rgb[p + 2] = (byte)(box ? 30 : c);
                }
            using var file = File.Create(Path.Combine(dir, $"img{i:D2}.png"));
            new ImageWriter().WritePng(rgb, w, h, ColorComponents.RedGreenBlue, file);
        }
        return dir;
    }

    [Test]
    public void ImageFolderDecodesResizesScalesAndNormalizesInNchw()
    {
        var dir = Path.Combine(TestPaths.TempDir(), "solid");
        Directory.CreateDirectory(dir);
        var rgb = new byte[6 * 4 * 3];
        for (int p = 0; p < 24; p++) { rgb[p * 3] = 255; rgb[p * 3 + 1] = 51; rgb[p * 3 + 2] = 0; }
        using (var file = File.Create(Path.Combine(dir, "a.png"))) new ImageWriter().WritePng(rgb, 6, 4, ColorComponents.RedGreenBlue, file);
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "not an image");

        var plain = ImageFolder.Load(dir, new ImageFolderOptions { Height = 3, Width = 5 });
        var x = plain.Inputs[ImageFolder.InputKey];
        Assert.That(x.Shape, Is.EqualTo(new long[] { 1, 3, 3, 5 }));
        var v = x.ToFloatArray();
        Assert.That(v[0], Is.EqualTo(1f).Within(1e-6f), "R scaled to [0, 1]");
        Assert.That(v[15], Is.EqualTo(0.2f).Within(1e-6f), "G plane");
        Assert.That(v[30], Is.EqualTo(0f));

        var bgr = ImageFolder.Load(dir, new ImageFolderOptions { Height = 3, Width = 5, Bgr = true, Mean = [0.5f, 0.5f, 0.5f], Std = [0.5f, 0.5f, 0.5f] })
            .Inputs[ImageFolder.InputKey].ToFloatArray();
        Assert.That(bgr[0], Is.EqualTo(-1f).Within(1e-6f), "B first, (0 − 0.5) / 0.5");
        Assert.That(bgr[30], Is.EqualTo(1f).Within(1e-6f), "R last");

        File.WriteAllBytes(Path.Combine(dir, "broken.png"), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
        var e = Assert.Throws<DataFormatException>(() => ImageFolder.Load(dir, new ImageFolderOptions { Height = 3, Width = 5 }));
        Assert.That(e!.Message, Does.Contain("broken.png"));
        Assert.Throws<DataFormatException>(() => ImageFolder.Load(Path.Combine(dir, "missing"), new ImageFolderOptions { Height = 3, Width = 5 }));
    }

    [Test]
    public void KLDivergenceLossIsDifferentiatedCorrectlyAndEvaluatedAlike()
    {
        // The label-free logits loss T²·KL(softmax(t/T) ‖ softmax(z/T)): the training graph's gradient against central
        // differences of its own loss, and its loss against the evaluator's.
        var b = new GraphBuilder(opset: 17);
        var r = new Random(2);
        var z = b.Initializer("z", GradientCheck.Values(r, 12), 3, 4);
        b.Output(b.Mul(z, b.Initializer("scale", GradientCheck.Values(r, 12, 0.5f), 3, 4)));
        var model = b.Build();
        var head = new LossOptions { Kind = LossKind.KLDivergence, Temperature = 2f };
        var graph = GradientBuilder.Build(model, new GradientBuilderOptions { BatchSize = 3, Loss = head });
        using var session = OnnxPrune.Runtime.OrtSessions.Create(graph.Model);
        var teacher = OnnxPrune.Tensors.Tensor.FromArray<float>(GradientCheck.Values(r, 12, 0f, 3f), 3, 4);
        var feeds = model.Graph.Constants.ToDictionary(c => c.Name, c => c.Data);
        feeds[graph.Heads[0].TargetInput] = teacher;
        float Loss() => session.RunTensors(feeds)[graph.LossOutput].AsSpan<float>()[0];
        var zName = graph.Parameters.Single(p => p.Name == "z");
        var gradient = session.RunTensors(feeds)[zName.GradientName].ToFloatArray();
        var values = feeds["z"].ToFloatArray();
        const float h = 1e-2f;
        for (int i = 0; i < values.Length; i++)
        {
            var plus = (float[])values.Clone(); plus[i] += h;
            var minus = (float[])values.Clone(); minus[i] -= h;
            feeds["z"] = OnnxPrune.Tensors.Tensor.FromArray<float>(plus, 3, 4);
            float up = Loss();
            feeds["z"] = OnnxPrune.Tensors.Tensor.FromArray<float>(minus, 3, 4);
            float down = Loss();
            Assert.That(gradient[i], Is.EqualTo((up - down) / (2 * h)).Within(2e-3f), $"dL/dz[{i}]");
        }
        feeds["z"] = OnnxPrune.Tensors.Tensor.FromArray<float>(values, 3, 4);
        var data = new TensorDataset("t", new Dictionary<string, OnnxPrune.Tensors.Tensor> { ["unused"] = OnnxPrune.Tensors.Tensor.Zeros(OnnxPrune.Tensors.ElementType.Float, 3, 1) },
            new Dictionary<string, OnnxPrune.Tensors.Tensor> { ["teacher"] = teacher });
        var evaluated = Evaluator.Evaluate(model, data, [head with { Target = "teacher" }]);
        Assert.That(evaluated.Loss, Is.EqualTo(Loss()).Within(1e-4), "the evaluator's mean per sample equals the training loss");
        Assert.That(Loss(), Is.GreaterThan(0));
    }

    /// <summary>
    /// The acceptance case: yolox_nano pruned by the library, distilled from the unpruned model on generated images
    /// (no labels), lowers its mean squared gap to the teacher on held-out images; the written model keeps its interface.
    /// </summary>
    [Test]
    public async Task DistillingAPrunedDetectorOnAnImageFolderLowersItsGapToTheTeacher()
    {
        var teacher = OnnxModel.Load(TestPaths.SharedModel("yolox_nano.onnx"));
        var student = OnnxModel.Load(TestPaths.SharedModel("yolox_nano.onnx"));
        await Pruner.Default.PruneAsync(student, new PruneOptions { Criterion = new OnnxPrune.Pruning.Importance.MagnitudeCriterion(2), Budget = new UniformRatioBudget(0.3) });
        var images = WriteImages(10, 40, 32);
        var options = new FinetuneOptions
        {
            Data = FineTuner.ImagesPrefix + images,
            Teacher = teacher,
            Trainer = TrainerOptions.For(OptimizerKind.AdamW) with { BatchSize = 2, Steps = 6, ProgressInterval = 1, IntraOpThreads = 2 },
        };
        var (tuned, report) = await FineTuner.Default.FinetuneAsync(student, options);
        var d = report.Distillation!;
        TestContext.Out.WriteLine($"gap {d.Before} → {d.After}");
        Assert.That(d.Outputs, Is.EqualTo(teacher.Graph.Outputs.Select(o => o.Name).ToArray()));
        Assert.That(d.Losses.Select(l => l.Kind), Has.All.EqualTo(LossKind.MeanSquaredError), "a detector's rank-3 output is distilled by MSE");
        Assert.That(d.Before.Count, Is.EqualTo(2), "one image in five held out");
        Assert.That(d.Before.Mean, Is.GreaterThan(0));
        Assert.That(d.After.Mean, Is.LessThan(d.Before.Mean));
        Assert.That(tuned.Graph.DataInputs.Single().Shape!.Select(s => s.Value), Is.EqualTo(new long?[] { 1, 3, 416, 416 }), "the original interface");
    }

    [Test]
    public void ImageFolderDataWithoutATeacherIsRefused()
    {
        var images = WriteImages(2, 8, 8);
        var e = Assert.ThrowsAsync<ArgumentException>(() => FineTuner.Default.FinetuneAsync(TrainerTests.TinyCnn(),
            new FinetuneOptions { Data = FineTuner.ImagesPrefix + images }));
        Assert.That(e!.Message, Does.Contain("no labels").And.Contain("teacher"));
    }
}
