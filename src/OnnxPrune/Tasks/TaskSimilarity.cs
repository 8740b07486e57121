using System.Numerics.Tensors;

namespace OnnxPrune.Tasks;

/// <summary>How two tasks are compared (the CLI's <c>--embedding</c>).</summary>
public enum SimilarityKind
{
    /// <summary>Cosine of feature embeddings (<see cref="TaskEmbeddingKinds.Features"/>).</summary>
    Features,
    /// <summary>Task2Vec-style cosine of normalised diagonal Fisher embeddings (<see cref="TaskEmbeddingKinds.Fisher"/>).</summary>
    Fisher,
    /// <summary>Jaccard overlap of the class sets (same data set only).</summary>
    Classes,
}

/// <summary>A new task as the similarity search sees it: its descriptor and embeddings (no masks yet).</summary>
/// <param name="Task">What the task is (classes are used by <see cref="SimilarityKind.Classes"/> and to split
/// per-class feature embeddings).</param>
/// <param name="Embeddings">Its embeddings by kind.</param>
public sealed record TaskQuery(TaskDescriptor Task, IReadOnlyDictionary<string, float[]> Embeddings);

/// <summary>A library entry near a query, with its similarity (higher = more similar).</summary>
/// <param name="Entry">The entry.</param>
/// <param name="Similarity">The similarity under the kind asked for: cosine in [−1, 1] (features), [0, 1] (Fisher,
/// classes).</param>
public sealed record TaskNeighbor(TaskEntry Entry, double Similarity);

/// <summary>
/// Task similarity as pure math over embeddings, and the nearest-task search built on it.
/// </summary>
/// <remarks>
/// <para><b>Features</b>: each task embeds as the base model's penultimate features averaged per class and
/// concatenated in ascending class id order (d floats per class), or as one task mean. Two embeddings of equal length
/// and equal class count compare by cosine of the concatenations (class chunk i against class chunk i). Otherwise
/// (different class counts, or a task without classes) each is reduced to its task mean — the mean of its d-float
/// chunks, d = length / class count — and the means compare by cosine. Ascending class order is canonical but not a
/// matching: tasks {0,3,7} and {3,7,9} compare chunk 0↔3, 3↔7, 7↔9.</para>
/// <para><b>Fisher</b> (Task2Vec, Achille et al. 2019): for non-negative diagonal Fisher vectors a, b, the similarity
/// is the cosine of a/(a+b) and b/(a+b) elementwise (entries where a+b = 0 contribute nothing). This removes the
/// scale of each weight's Fisher (the model's own sensitivity) so that tasks compare by which weights matter
/// relatively more to each. Range [0, 1]; 1 for proportional vectors.</para>
/// <para><b>Classes</b>: |A ∩ B| / |A ∪ B| of the class sets, 0 when the data sets differ; tasks without classes are
/// not comparable this way.</para>
/// <para>A zero vector has no direction: its cosine similarity with anything is 0. NaN or infinite inputs are refused.</para>
/// </remarks>
public static class TaskSimilarity
{
    /// <summary>Cosine similarity of two equal-length vectors, in [−1, 1]; 0 when either is zero.</summary>
    /// <exception cref="ArgumentException">Lengths differ, or a value is not finite.</exception>
    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"Vectors of different lengths ({a.Length} and {b.Length}).", nameof(b));
        CheckFinite(a, nameof(a));
        CheckFinite(b, nameof(b));
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }
        if (na == 0 || nb == 0) return 0;
        return Math.Clamp(dot / (Math.Sqrt(na) * Math.Sqrt(nb)), -1, 1);
    }

    /// <summary>Feature-embedding similarity (see remarks of <see cref="TaskSimilarity"/>).</summary>
    /// <param name="a">First embedding.</param>
    /// <param name="classCountA">Number of per-class chunks in <paramref name="a"/> (1 for a task mean).</param>
    /// <param name="b">Second embedding.</param>
    /// <param name="classCountB">Number of per-class chunks in <paramref name="b"/>.</param>
    /// <exception cref="ArgumentException">A length is not a multiple of its class count, or the per-class sizes differ.</exception>
    public static double Features(ReadOnlySpan<float> a, int classCountA, ReadOnlySpan<float> b, int classCountB)
    {
        if (a.Length == b.Length && classCountA == classCountB) return Cosine(a, b);
        var ma = TaskMean(a, classCountA);
        var mb = TaskMean(b, classCountB);
        if (ma.Length != mb.Length)
            throw new ArgumentException($"Feature embeddings of different widths per class ({ma.Length} and {mb.Length}): not from one base model?", nameof(b));
        return Cosine(ma, mb);
    }

    /// <summary>The mean of the <paramref name="classCount"/> equal chunks of a per-class feature embedding.</summary>
    /// <exception cref="ArgumentException">The length is not a positive multiple of the class count.</exception>
    public static float[] TaskMean(ReadOnlySpan<float> perClass, int classCount)
    {
        if (classCount < 1 || perClass.Length == 0 || perClass.Length % classCount != 0)
            throw new ArgumentException($"A feature embedding of {perClass.Length} floats does not split into {classCount} class means.", nameof(perClass));
        int d = perClass.Length / classCount;
        var mean = new float[d];
        for (int c = 0; c < classCount; c++) TensorPrimitives.Add(mean, perClass.Slice(c * d, d), mean);
        TensorPrimitives.Divide(mean, classCount, mean);
        return mean;
    }

    /// <summary>Builds a feature embedding from per-class means: concatenated in ascending class id order.</summary>
    /// <exception cref="ArgumentException">No classes, or means of different lengths.</exception>
    public static float[] FeatureEmbedding(IReadOnlyDictionary<int, float[]> classMeans)
    {
        ArgumentNullException.ThrowIfNull(classMeans);
        if (classMeans.Count == 0) throw new ArgumentException("No class means.", nameof(classMeans));
        int d = classMeans.First().Value.Length;
        if (d == 0 || classMeans.Values.Any(v => v.Length != d)) throw new ArgumentException("Class means of different or zero lengths.", nameof(classMeans));
        return classMeans.OrderBy(kv => kv.Key).SelectMany(kv => kv.Value).ToArray();
    }

    /// <summary>Task2Vec-style Fisher similarity: cosine of a/(a+b) and b/(a+b), in [0, 1].</summary>
    /// <exception cref="ArgumentException">Lengths differ, or a value is negative or not finite.</exception>
    public static double Fisher(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"Fisher embeddings of different lengths ({a.Length} and {b.Length}): not from one base model?", nameof(b));
        CheckFinite(a, nameof(a));
        CheckFinite(b, nameof(b));
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] < 0 || b[i] < 0) throw new ArgumentException($"A diagonal Fisher value is negative (index {i}).", a[i] < 0 ? nameof(a) : nameof(b));
            double s = (double)a[i] + b[i];
            if (s == 0) continue;
            double x = a[i] / s, y = b[i] / s;
            dot += x * y;
            na += x * x;
            nb += y * y;
        }
        if (na == 0 || nb == 0) return 0;
        return Math.Clamp(dot / (Math.Sqrt(na) * Math.Sqrt(nb)), 0, 1);
    }

    /// <summary>Jaccard overlap of two class sets, in [0, 1] (1 for two empty sets).</summary>
    public static double ClassOverlap(IEnumerable<int> a, IEnumerable<int> b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var sa = a.ToHashSet();
        var sb = b.ToHashSet();
        int union = sa.Union(sb).Count();
        return union == 0 ? 1 : (double)sa.Intersect(sb).Count() / union;
    }

    /// <summary>The similarity of a query and an entry under <paramref name="kind"/>; null when they cannot be
    /// compared that way (an embedding missing on either side; no classes for <see cref="SimilarityKind.Classes"/>).</summary>
    /// <exception cref="ArgumentException">Embeddings of incompatible shapes (e.g. from different base models).</exception>
    public static double? Compare(TaskQuery query, TaskEntry entry, SimilarityKind kind)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(entry);
        switch (kind)
        {
            case SimilarityKind.Features:
                if (!query.Embeddings.TryGetValue(TaskEmbeddingKinds.Features, out var qf) || !entry.Embeddings.TryGetValue(TaskEmbeddingKinds.Features, out var ef)) return null;
                return Features(qf, query.Task.Classes?.Count ?? 1, ef, entry.Task.Classes?.Count ?? 1);
            case SimilarityKind.Fisher:
                if (!query.Embeddings.TryGetValue(TaskEmbeddingKinds.Fisher, out var qh) || !entry.Embeddings.TryGetValue(TaskEmbeddingKinds.Fisher, out var eh)) return null;
                return Fisher(qh, eh);
            case SimilarityKind.Classes:
                if (query.Task.Classes is not { } qc || entry.Task.Classes is not { } ec) return null;
                return string.Equals(query.Task.DataSet, entry.Task.DataSet, StringComparison.Ordinal) ? ClassOverlap(qc, ec) : 0;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown similarity kind.");
        }
    }

    /// <summary>The <paramref name="k"/> entries most similar to the query, most similar first (ties by entry id, so
    /// the result is deterministic). Entries that cannot be compared under <paramref name="kind"/> are left out.</summary>
    /// <param name="query">The new task.</param>
    /// <param name="entries">The candidates (one base model's entries, e.g. <see cref="TaskLibrary.ForBaseModel"/>).</param>
    /// <param name="k">How many neighbours (at least 1); fewer are returned when fewer are comparable.</param>
    /// <param name="kind">How to compare.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> below 1.</exception>
    /// <exception cref="TaskLibraryException">An entry's embedding has an incompatible shape (names the entry).</exception>
    public static IReadOnlyList<TaskNeighbor> NearestTasks(TaskQuery query, IEnumerable<TaskEntry> entries, int k, SimilarityKind kind)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        var scored = new List<TaskNeighbor>();
        foreach (var e in entries)
        {
            double? s;
            try { s = Compare(query, e, kind); }
            catch (ArgumentException ex)
            {
                throw new TaskLibraryException($"entry {e.ShortId} ({e.Task.Describe()}): cannot compare its {kind} embedding with the query's: {ex.Message}", null, ex);
            }
            if (s is { } v) scored.Add(new TaskNeighbor(e, v));
        }
        return scored.OrderByDescending(n => n.Similarity).ThenBy(n => n.Entry.Id, StringComparer.Ordinal).Take(k).ToList();
    }

    private static void CheckFinite(ReadOnlySpan<float> v, string name)
    {
        foreach (var x in v)
            if (!float.IsFinite(x)) throw new ArgumentException("A vector holds NaN or infinity.", name);
    }
}
