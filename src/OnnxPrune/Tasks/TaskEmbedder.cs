using OnnxPrune.Analysis;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Pruning.Importance;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;
using OnnxPrune.Training;

namespace OnnxPrune.Tasks;

/// <summary>How <see cref="TaskEmbedder"/> samples the task's data.</summary>
public sealed record EmbeddingOptions
{
    /// <summary>Images per class for the feature embedding.</summary>
    public int FeatureSamplesPerClass { get; init; } = 100;

    /// <summary>Batches for the Fisher embedding.</summary>
    public int FisherBatches { get; init; } = 16;

    /// <summary>Samples per Fisher batch (small: the batch gradient's square approximates the per-sample Fisher better).</summary>
    public int FisherBatchSize { get; init; } = 8;

    /// <summary>Seed of the sample choice.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>ONNX Runtime options.</summary>
    public SessionSettings SessionSettings { get; init; } = new() { AllowSpinning = false };
}

/// <summary>
/// Task embeddings from a base model and a task's data (<see cref="TaskEmbeddingKinds"/>):
/// <c>features</c> — per-class means of the penultimate features (the input of the final Gemm/MatMul), concatenated in
/// ascending class id order; <c>fisher</c> — the diagonal (empirical) Fisher of the base weights on the task's data,
/// pooled per pruning unit (Σ over a unit's coupled slices of the summed squared batch gradients), concatenated over the
/// non-blocked groups in ascending key order, so one base model always gives the same layout. The model is only read.
/// </summary>
public static class TaskEmbedder
{
    /// <summary>The value the final classifier layer reads: input 0 of the last Gemm/MatMul (with a constant weight) on the
    /// way back from the first graph output.</summary>
    /// <exception cref="UnsupportedModelException">No such node.</exception>
    public static Value PenultimateFeatures(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return FinalLayer(model).Input(0)!;
    }

    /// <summary>The final classifier layer: the last Gemm/MatMul with a constant weight before the first graph output.</summary>
    /// <exception cref="UnsupportedModelException">No such node.</exception>
    public static Node FinalLayer(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var start = model.Graph.Outputs.FirstOrDefault()?.Producer;
        var seen = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var queue = new Queue<Node>();
        if (start is not null) queue.Enqueue(start);
        while (queue.Count > 0)
        {
            var n = queue.Dequeue();
            if (!seen.Add(n)) continue;
            if (n.OpType is "Gemm" or "MatMul" && n.Input(1)?.Constant is not null && n.Input(0) is not null) return n;
            foreach (var i in n.Inputs)
                if (i?.Producer is { } p && i.Constant is null) queue.Enqueue(p);
        }
        throw new UnsupportedModelException($"{model.SourcePath ?? "model"}: no Gemm/MatMul with a constant weight feeds the first output; the feature embedding needs a classifier head.");
    }

    /// <summary>Computes the requested embeddings of the task (<paramref name="classes"/> of <paramref name="data"/>,
    /// whose labels are the data set's class ids) on <paramref name="baseModel"/> (its head must have every class).</summary>
    /// <param name="baseModel">The base model.</param>
    /// <param name="data">The full data set (train split), labels = class ids.</param>
    /// <param name="classes">The task's classes.</param>
    /// <param name="kinds">Which embeddings (<see cref="TaskEmbeddingKinds"/>).</param>
    /// <param name="options">Sampling; null for defaults.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    public static async Task<IReadOnlyDictionary<string, float[]>> EmbedAsync(OnnxModel baseModel, ImageDataset data, IReadOnlyList<int> classes,
        IEnumerable<string> kinds, EmbeddingOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(baseModel);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(classes);
        ArgumentNullException.ThrowIfNull(kinds);
        options ??= new EmbeddingOptions();
        var result = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var kind in kinds.Distinct())
        {
            cancellationToken.ThrowIfCancellationRequested();
            result[kind] = kind switch
            {
                TaskEmbeddingKinds.Features => await Task.Run(() => Features(baseModel, data, classes, options, cancellationToken), cancellationToken).ConfigureAwait(false),
                TaskEmbeddingKinds.Fisher => await FisherAsync(baseModel, data, classes, options, cancellationToken).ConfigureAwait(false),
                _ => throw new ArgumentException($"Unknown embedding kind '{kind}'; use {TaskEmbeddingKinds.Features} or {TaskEmbeddingKinds.Fisher}.", nameof(kinds)),
            };
        }
        return result;
    }

    /// <summary>Per-class means of the penultimate features, concatenated in ascending class id order.</summary>
    public static float[] Features(OnnxModel baseModel, ImageDataset data, IReadOnlyList<int> classes, EmbeddingOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(baseModel);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(classes);
        options ??= new EmbeddingOptions();
        var subset = data.SelectClasses(classes).TakePerClass(options.FeatureSamplesPerClass, options.Seed); // labels 0..k−1 in the given order
        var probe = OnnxModel.FromProto(baseModel.ToProto());
        var feature = PenultimateFeatures(probe);
        if (!feature.IsGraphOutput)
        {
            if (!feature.HasType || feature.ElementType == ElementType.Undefined) feature.SetTensorType(ElementType.Float, null);
            probe.Graph.AddOutput(feature);
        }
        var sums = new Dictionary<int, double[]>();
        var counts = new Dictionary<int, int>();
        using var session = OrtSessions.Create(probe, options.SessionSettings);
        var inputs = probe.Graph.DataInputs.Select(v => v.Name).ToArray();
        const int Batch = 128;
        for (int start = 0; start < subset.Count; start += Batch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var idx = Enumerable.Range(start, Math.Min(Batch, subset.Count - start)).ToArray();
            var batch = subset.GetBatch(idx);
            var f = session.RunTensors(batch.InputsFor(inputs), [feature.Name])[feature.Name];
            var values = f.ToFloatArray();
            int d = values.Length / idx.Length;
            for (int i = 0; i < idx.Length; i++)
            {
                int c = classes[(int)subset.Label(idx[i])];
                if (!sums.TryGetValue(c, out var s)) { sums[c] = s = new double[d]; counts[c] = 0; }
                counts[c]++;
                for (int j = 0; j < d; j++) s[j] += values[i * d + j];
            }
        }
        if (sums.Count != classes.Count)
            throw new ArgumentException($"{data.Name} has no images of class(es) {string.Join(",", classes.Where(c => !sums.ContainsKey(c)))}.", nameof(classes));
        return TaskSimilarity.FeatureEmbedding(sums.ToDictionary(kv => kv.Key, kv => kv.Value.Select(v => (float)(v / counts[kv.Key])).ToArray()));
    }

    /// <summary>The diagonal Fisher of the base weights on the task's data, pooled per pruning unit (see the class remarks).</summary>
    public static async Task<float[]> FisherAsync(OnnxModel baseModel, ImageDataset data, IReadOnlyList<int> classes, EmbeddingOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(baseModel);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(classes);
        options ??= new EmbeddingOptions();
        var task = TaskData.ForTask(data, classes, TaskData.OutputClasses(baseModel));
        var groups = DependencyAnalyzer.Analyze(baseModel, cancellationToken).Groups.Where(g => !g.IsBlocked).OrderBy(g => g.Key, StringComparer.Ordinal).ToArray();
        var slices = new WeightSlices();
        var names = groups.SelectMany(g => TaylorCriterion.Coupled(g, slices)).Select(s => s.Constant.Name).ToHashSet(StringComparer.Ordinal);
        var provider = DataProviders.FromDataset(task, options.FisherBatchSize, options.FisherBatches, options.Seed);
        var sums = await GradientStatistics.ComputeAsync(baseModel, provider, options.FisherBatches, names, options.SessionSettings, null, cancellationToken).ConfigureAwait(false);
        var result = new List<float>();
        foreach (var g in groups)
        {
            var pooled = TaylorCriterion.PoolPerUnit(g, sums.SquaredGradient, slices);
            if (pooled is null) continue;
            foreach (var v in pooled) result.Add((float)(v / sums.Batches));
        }
        return result.ToArray();
    }
}
