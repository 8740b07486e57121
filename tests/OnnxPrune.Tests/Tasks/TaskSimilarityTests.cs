using OnnxPrune.Tasks;

namespace OnnxPrune.Tests.Tasks;

/// <summary>Task similarity: cosine, Task2Vec-style Fisher, class overlap, nearest-task search.</summary>
public class TaskSimilarityTests
{
    [Test]
    public void CosineMatchesHandValues()
    {
        Assert.That(TaskSimilarity.Cosine([1, 0], [1, 1]), Is.EqualTo(1 / Math.Sqrt(2)).Within(1e-12));
        Assert.That(TaskSimilarity.Cosine([1, 2, 3], [2, 4, 6]), Is.EqualTo(1).Within(1e-12), "scale does not matter");
        Assert.That(TaskSimilarity.Cosine([1, 2], [-1, -2]), Is.EqualTo(-1).Within(1e-12));
        Assert.That(TaskSimilarity.Cosine([1, 0], [0, 5]), Is.Zero);
        Assert.That(TaskSimilarity.Cosine([0, 0], [1, 5]), Is.Zero, "a zero vector has no direction");
        // (3,4)·(4,3) = 24, norms 5 and 5.
        Assert.That(TaskSimilarity.Cosine([3, 4], [4, 3]), Is.EqualTo(24.0 / 25).Within(1e-12));
        Assert.That(() => TaskSimilarity.Cosine([1, 2], [1]), Throws.ArgumentException);
        Assert.That(() => TaskSimilarity.Cosine([1, float.NaN], [1, 1]), Throws.ArgumentException);
    }

    [Test]
    public void FisherSimilarityIsTask2VecNormalisedCosine()
    {
        // a = (1,1), b = (1,3): a/(a+b) = (1/2, 1/4), b/(a+b) = (1/2, 3/4).
        double dot = 0.5 * 0.5 + 0.25 * 0.75, na = Math.Sqrt(0.25 + 0.0625), nb = Math.Sqrt(0.25 + 0.5625);
        Assert.That(TaskSimilarity.Fisher([1, 1], [1, 3]), Is.EqualTo(dot / (na * nb)).Within(1e-9));
        Assert.That(TaskSimilarity.Fisher([1, 5, 0.01f], [2, 10, 0.02f]), Is.EqualTo(1).Within(1e-6), "proportional Fisher vectors are the same task");
        Assert.That(TaskSimilarity.Fisher([1, 0], [0, 1]), Is.Zero, "disjoint support");
        Assert.That(TaskSimilarity.Fisher([0, 0, 2], [0, 0, 3]), Is.EqualTo(1).Within(1e-9), "weights with zero Fisher on both sides count for nothing");
        // The normalisation removes per-weight scale: a weight with a huge Fisher under both tasks does not dominate.
        double plain = TaskSimilarity.Cosine([1000, 1, 0], [1000, 0, 1]);
        double fisher = TaskSimilarity.Fisher([1000, 1, 0], [1000, 0, 1]);
        Assert.That(plain, Is.GreaterThan(0.999));
        Assert.That(fisher, Is.LessThan(0.6));
        Assert.That(() => TaskSimilarity.Fisher([1, -1], [1, 1]), Throws.ArgumentException.With.Message.Contains("negative"));
    }

    [Test]
    public void FeatureEmbeddingsConcatenateClassMeansInAscendingClassOrder()
    {
        var e = TaskSimilarity.FeatureEmbedding(new Dictionary<int, float[]> { [7] = [7, 7], [0] = [0, 1], [3] = [3, 3] });
        Assert.That(e, Is.EqualTo(new float[] { 0, 1, 3, 3, 7, 7 }));
        Assert.That(TaskSimilarity.TaskMean(e, 3), Is.EqualTo(new float[] { 10 / 3f, 11 / 3f }).Within(1e-6));
    }

    [Test]
    public void FeaturesCompareChunkwiseForEqualClassCountsAndByTaskMeanOtherwise()
    {
        float[] a = [1, 0, 0, 1, 1, 1];       // three classes, d = 2
        float[] b = [0, 1, 1, 0, 1, 1];
        Assert.That(TaskSimilarity.Features(a, 3, b, 3), Is.EqualTo(TaskSimilarity.Cosine(a, b)).Within(1e-12));
        Assert.That(TaskSimilarity.Features(a, 3, b, 3), Is.EqualTo(0.5).Within(1e-6), "(0+0+0+0+1+1) / (2·2)");
        // A 2-class task against a 3-class one: their means (2/3, 2/3) and (1, 2) compare.
        float[] c = [1, 2, 1, 2];
        Assert.That(TaskSimilarity.Features(a, 3, c, 2), Is.EqualTo(3 / Math.Sqrt(2 * 5)).Within(1e-6));
        Assert.That(() => TaskSimilarity.Features(a, 3, [1, 2, 3], 1), Throws.ArgumentException.With.Message.Contains("widths"));
        Assert.That(() => TaskSimilarity.Features(a, 4, b, 3), Throws.ArgumentException);
    }

    [Test]
    public void ClassOverlapIsJaccard()
    {
        Assert.That(TaskSimilarity.ClassOverlap([0, 3, 7], [0, 3, 8]), Is.EqualTo(0.5));
        Assert.That(TaskSimilarity.ClassOverlap([0, 3, 7], [7, 0, 3]), Is.EqualTo(1));
        Assert.That(TaskSimilarity.ClassOverlap([0, 1, 2], [3, 4, 5]), Is.Zero);
        Assert.That(TaskSimilarity.ClassOverlap([0, 1], [1, 2, 3]), Is.EqualTo(0.25));
    }

    [Test]
    public void NearestTasksOrdersBySimilarityAndLeavesOutTheIncomparable()
    {
        // Feature directions at known angles from the query (1, 0): 0°, 30°, 60°, 90°, 180°.
        var entries = new[] { 0.0, 30, 60, 90, 180 }.Select((deg, i) =>
        {
            double r = deg * Math.PI / 180;
            return TaskEntries.Make([i], new() { ["g"] = (4, [0, 1]) }, features: [(float)Math.Cos(r), (float)Math.Sin(r)]) with { Id = $"e{deg}" };
        }).ToList();
        entries.Add(TaskEntries.Make([9], new() { ["g"] = (4, [0]) }) with { Id = "no-features" });
        var query = new TaskQuery(new TaskDescriptor { DataSet = "fashion-mnist", Classes = [5] },
            new Dictionary<string, float[]> { [TaskEmbeddingKinds.Features] = [1, 0] });

        var near = TaskSimilarity.NearestTasks(query, entries.AsEnumerable().Reverse(), 3, SimilarityKind.Features);
        Assert.That(near.Select(n => n.Entry.Id), Is.EqualTo(new[] { "e0", "e30", "e60" }));
        Assert.That(near.Select(n => n.Similarity), Is.EqualTo(new[] { 1, Math.Cos(Math.PI / 6), 0.5 }).Within(1e-6));
        var all = TaskSimilarity.NearestTasks(query, entries, 10, SimilarityKind.Features);
        Assert.That(all.Select(n => n.Entry.Id), Is.EqualTo(new[] { "e0", "e30", "e60", "e90", "e180" }), "the entry without features is left out");
        Assert.That(all[^1].Similarity, Is.EqualTo(-1).Within(1e-6));
        Assert.That(TaskSimilarity.NearestTasks(query, entries, 3, SimilarityKind.Fisher), Is.Empty);
        Assert.That(() => TaskSimilarity.NearestTasks(query, entries, 0, SimilarityKind.Features), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void NearestTasksBreaksTiesByIdAndComparesClassesOnlyWithinADataSet()
    {
        var query = new TaskQuery(new TaskDescriptor { DataSet = "fashion-mnist", Classes = [0, 3, 7] }, new Dictionary<string, float[]>());
        var entries = new[]
        {
            TaskEntries.Make([0, 3, 8], new() { ["g"] = (2, [0]) }) with { Id = "b" },
            TaskEntries.Make([0, 3, 9], new() { ["g"] = (2, [0]) }) with { Id = "a" },
            TaskEntries.Make([0, 3, 7], new() { ["g"] = (2, [0]) }, dataSet: "mnist") with { Id = "c" },
            TaskEntries.Make([7, 3, 0], new() { ["g"] = (2, [0]) }) with { Id = "d" },
        };
        var near = TaskSimilarity.NearestTasks(query, entries, 4, SimilarityKind.Classes);
        Assert.That(near.Select(n => n.Entry.Id), Is.EqualTo(new[] { "d", "a", "b", "c" }));
        Assert.That(near.Select(n => n.Similarity), Is.EqualTo(new[] { 1, 0.5, 0.5, 0 }));
    }

    [Test]
    public void AnEmbeddingOfAnotherShapeIsATypedErrorNamingTheEntry()
    {
        var entry = TaskEntries.Make([1], new() { ["g"] = (2, [0]) }, fisher: [1, 2, 3]) with { Id = "0123456789abcdef" };
        var query = new TaskQuery(new TaskDescriptor { DataSet = "d", Label = "x" }, new Dictionary<string, float[]> { [TaskEmbeddingKinds.Fisher] = [1, 2] });
        var ex = Assert.Throws<TaskLibraryException>(() => TaskSimilarity.NearestTasks(query, [entry], 1, SimilarityKind.Fisher))!;
        Assert.That(ex.Message, Does.Contain("0123456789ab").And.Contain("Fisher"));
    }
}
