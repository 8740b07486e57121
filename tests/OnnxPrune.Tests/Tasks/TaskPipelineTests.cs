using OnnxPrune.Analysis;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Runtime;
using OnnxPrune.Tasks;
using OnnxPrune.Tensors;
using OnnxPrune.Tests.Training;

namespace OnnxPrune.Tests.Tasks;

/// <summary>Task embeddings, iterative pruning into a library, and adapt, on small models and the embedded ResNet.</summary>
public class TaskPipelineTests
{
    private static string ResNetPath => Path.Combine(TestPaths.RepoRoot, "onnx-models", "fmnist-resnet.onnx");
    private static ImageDataset? _few;
    private static ImageDataset Few => _few ??= FashionMnist.Load(train: true).TakePerClass(20, seed: 1);

    [Test]
    public void PenultimateFeaturesAreTheInputOfTheFinalGemm()
    {
        var model = TestModels.SmallCnn();
        var head = TaskEmbedder.FinalLayer(model);
        Assert.That(head.OpType, Is.EqualTo("Gemm"));
        Assert.That(TaskEmbedder.PenultimateFeatures(model).Producer!.OpType, Is.EqualTo("Flatten"));
    }

    [Test]
    public void FeatureEmbeddingIsPerClassMeansInAscendingClassOrder()
    {
        var model = OnnxModel.Load(ResNetPath);
        var a = TaskEmbedder.Features(model, Few, [7, 0, 3]);
        var b = TaskEmbedder.Features(model, Few, [3, 5]);
        Assert.That(a.Length % 3, Is.EqualTo(0));
        int d = a.Length / 3;
        Assert.That(b.Length, Is.EqualTo(2 * d));
        // Chunk order is ascending class id: class 3 is chunk 1 of {0,3,7} and chunk 0 of {3,5}; all 20 images of a class are used.
        Assert.That(a.AsSpan(d, d).ToArray(), Is.EqualTo(b.AsSpan(0, d).ToArray()).Within(1e-5));
        Assert.That(a.AsSpan(0, d).ToArray(), Is.Not.EqualTo(a.AsSpan(d, d).ToArray()));
        Assert.That(TaskSimilarity.Features(a, 3, a, 3), Is.EqualTo(1).Within(1e-6));
    }

    [Test]
    public async Task FisherEmbeddingIsPooledPerUnitNonNegativeAndDeterministic()
    {
        var model = OnnxModel.Load(ResNetPath);
        var options = new EmbeddingOptions { FisherBatches = 2, FisherBatchSize = 8 };
        var a = await TaskEmbedder.FisherAsync(model, Few, [0, 3, 7], options);
        var again = await TaskEmbedder.FisherAsync(model, Few, [0, 3, 7], options);
        var other = await TaskEmbedder.FisherAsync(model, Few, [1, 2, 9], options);
        long units = DependencyAnalyzer.Analyze(model).Groups.Where(g => !g.IsBlocked).Sum(g => g.Size);
        Assert.That(a.Length, Is.EqualTo(units), "one value per prunable unit");
        Assert.That(a, Is.All.GreaterThanOrEqualTo(0f));
        Assert.That(a.Count(v => v > 0), Is.GreaterThan(units / 2));
        Assert.That(again, Is.EqualTo(a));
        Assert.That(other, Is.Not.EqualTo(a));
        Assert.That(TaskSimilarity.Fisher(a, again), Is.EqualTo(1).Within(1e-6));
        Assert.That(TaskSimilarity.Fisher(a, other), Is.LessThan(1));
    }

    [TestCase(0.5, 3)]
    [TestCase(0.7, 2)]
    [TestCase(0.8, 4)]
    public void RoundBudgetsCompoundToTheFinalRatio(double ratio, int rounds)
    {
        double kept = 1;
        for (int r = 1; r <= rounds; r++)
            kept *= 1 - ((UniformRatioBudget)TaskPruner.RoundBudget(new UniformRatioBudget(ratio), default, r, rounds)).Ratio;
        Assert.That(kept, Is.EqualTo(1 - ratio).Within(1e-12));
        var target = (TargetBudget)TaskPruner.RoundBudget(new TargetBudget(CostMetric.Parameters, 1000), new ModelCost(4000, 16000, 0), 1, 3);
        Assert.That(target.Target, Is.EqualTo(3000));
    }

    /// <summary>Iterative pruning renumbers units every round; the recorded masks index the BASE model: cutting the base
    /// once with them gives exactly the iteratively pruned model (no fine-tuning, so weights are untouched).</summary>
    [Test]
    public async Task IterativeMasksAreMappedBackToBaseModelUnits()
    {
        var baseModel = OnnxModel.Load(ResNetPath);
        var original = baseModel.ToBytes();
        var result = await TaskPruner.PruneIterativelyAsync(baseModel, new LibraryAddOptions
        {
            Classes = [0, 3, 7], Budget = new UniformRatioBudget(0.6), Rounds = 3, StepsPerRound = 0, Criterion = "l2",
        });
        Assert.That(baseModel.ToBytes(), Is.EqualTo(original), "the base model is not modified");
        Assert.That(result.UnmappedGroups, Is.EqualTo(0));
        var once = OnnxModel.FromBytes(original, "base");
        var groups = DependencyAnalyzer.Analyze(once).Groups;
        var masks = groups.Where(g => !g.IsBlocked).Select(g => new KeepMask(g, result.Masks[g.Key].Kept)).ToArray();
        Assert.That(masks.Count(m => !m.KeepsAll), Is.GreaterThan(3));
        Assert.That(masks.Any(m => m.Kept.Last() < m.Group.Size - 1 || m.Kept[0] > 0 || m.Kept.Zip(m.Kept.Skip(1)).Any(p => p.Second - p.First > 1)), "masks are not just prefixes");
        PruningSurgery.Apply(once, masks);
        var expected = once.Graph.Constants.ToDictionary(c => c.Name, c => c.Data.ToFloatArray());
        foreach (var c in result.Model.Graph.Constants.Where(c => c.ElementType == ElementType.Float))
            Assert.That(c.Data.ToFloatArray(), Is.EqualTo(expected[c.Name]), c.Name);
    }

    [Test]
    public void CutHeadKeepsTheTaskClassesLogitsInTheOrderGiven()
    {
        var r = new Random(5);
        float[] V(int n) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() - 0.5)).ToArray();
        var b = new GraphBuilder(opset: 17);
        var x = b.Input("x", ElementType.Float, "N", 6);
        var h = b.Relu(b.Gemm(x, b.Initializer("w1", V(8 * 6), 8, 6), b.Initializer("b1", V(8), 8), transB: true));
        b.Output(b.Gemm(h, b.Initializer("w2", V(10 * 8), 10, 8), b.Initializer("b2", V(10), 10), transB: true), ElementType.Float, "N", 10);
        var model = b.Build();
        var input = Tensor.FromArray<float>(V(4 * 6), 4, 6);
        using var full = OrtSessions.Create(model);
        var before = full.RunTensors(new Dictionary<string, Tensor> { ["x"] = input }).Values.First().ToFloatArray();
        TaskAdapter.CutHead(model, [7, 0, 3]);
        using var cut = OrtSessions.Create(model);
        var after = cut.RunTensors(new Dictionary<string, Tensor> { ["x"] = input }).Values.First();
        Assert.That(after.Shape, Is.EqualTo(new long[] { 4, 3 }));
        var a = after.ToFloatArray();
        for (int n = 0; n < 4; n++)
            Assert.That(new[] { a[n * 3], a[n * 3 + 1], a[n * 3 + 2] }, Is.EqualTo(new[] { before[n * 10 + 7], before[n * 10], before[n * 10 + 3] }).Within(1e-5));
        Assert.Throws<UnsupportedModelException>(() => TaskAdapter.CutHead(model, [5]), "3 outputs left");
    }

    [Test]
    public void AdaptRefusesALibraryOfAnotherBaseModel()
    {
        var dir = Directory.CreateTempSubdirectory("adapt-foreign");
        try
        {
            var library = TaskLibrary.OpenOrCreate(dir.FullName);
            library.Add(TaskEntries.Simple([0, 1, 2], TaskEntries.BaseB));
            var model = OnnxModel.Load(ResNetPath);
            var mine = ModelFingerprint.Of(model).Hex;
            var e = Assert.ThrowsAsync<BaseModelMismatchException>(() => TaskAdapter.AdaptAsync(model, library, new AdaptOptions { Classes = [0, 3, 7], Budget = new UniformRatioBudget(0.5) }));
            Assert.That(e!.Message, Does.Contain(mine).IgnoreCase.And.Contain(TaskEntries.BaseB).IgnoreCase);

            var (code, _, stderr) = TrainingCliTests.Cli("adapt", ResNetPath, Path.Combine(dir.FullName, "out.onnx"), "--library", dir.FullName, "--classes", "0,3,7", "--ratio", "0.5");
            Assert.That(code, Is.EqualTo(OnnxPrune.Cli.ExitCodes.Usage), stderr);
            Assert.That(stderr, Does.Contain(mine).IgnoreCase.And.Contain(TaskEntries.BaseB).IgnoreCase);
            Assert.That(File.Exists(Path.Combine(dir.FullName, "out.onnx")), Is.False, "nothing written");
        }
        finally { dir.Delete(true); }
    }
}
