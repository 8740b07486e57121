using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Graph.Passes;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;

namespace OnnxPrune.Training;

/// <summary>What <see cref="BatchNormRecalibrator.Recalibrate"/> did.</summary>
/// <param name="Layers">BatchNormalization layers whose statistics were re-estimated.</param>
/// <param name="Images">Images used.</param>
public sealed record RecalibrationResult(int Layers, int Images);

/// <summary>
/// Re-estimates BatchNormalization running statistics from task data (needed after pruning, when the surviving channels'
/// statistics no longer match): every BN layer is run in batch-statistics form (so each layer sees inputs normalized the
/// way training would), the per-batch means and unbiased variances are averaged over the batches (a cumulative moving
/// average, like PyTorch's momentum=None), and the results are written back into the model's mean/variance constants.
/// </summary>
public static class BatchNormRecalibrator
{
    /// <summary>Recalibrates <paramref name="model"/> in place from <paramref name="batches"/> batches of <paramref name="data"/>.</summary>
    /// <exception cref="UnsupportedModelException">The model's opset is below 7.</exception>
    /// <remarks>Any <see cref="IDataset"/> serves (its inputs only are read): an <see cref="ImageDataset"/> is checked against
    /// the model's input first; other data sets give the input shape by their first batch.</remarks>
    public static RecalibrationResult Recalibrate(OnnxModel model, IDataset data, int batches, int batchSize = 64, int seed = 1,
        SessionSettings? sessionSettings = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batches, 1);
        if (!model.Graph.Nodes.Any(n => n.OpType == "BatchNormalization" && n.IsStandard)) return new RecalibrationResult(0, 0);
        batchSize = Math.Min(batchSize, data.Count);

        // The statistics model: the forward graph with each BN in batch-statistics form and its batch mean/variance as outputs.
        // (a fixed-batch export is made batch-free first; the statistics it writes back are found by name)
        var stats = SymbolicBatchPass.FixedBatch(model) is long fixedBatch && fixedBatch != batchSize
            ? BatchFreeModel.Copy(model) : OnnxModel.FromBytes(model.ToBytes(), "bn-statistics");
        var g = stats.Graph;
        var input = g.DataInputs.Single();
        if (input.Shape is { } declared && data is ImageDataset imageSet) TaskData.EnsureImagesFit(input.Name, declared.Select(d => d.Value ?? -1).ToArray(), imageSet);
        var shapes = new Dictionary<string, long[]>
        {
            [input.Name] = data.GetBatch(Enumerable.Range(0, batchSize).ToArray()).InputsFor([input.Name])[input.Name].Dims.ToArray(),
        };
        GradientBuilder.UpgradeIfNeeded(stats, shapes);
        var probed = TrainingShapes.Resolve(stats, shapes);
        var types = new Dictionary<Value, (ElementType, long[])>();
        foreach (var v in g.Values)
            if (probed.TryGetValue(v.Name, out var p)) types[v] = (p.Type, p.Shape);
        var context = new GradientContext(new GraphBuilder(stats), types, new(StringComparer.Ordinal), new HashSet<Value>(), stats.GetOpset(""), BatchNormMode.BatchStatistics);
        var layers = g.Nodes.Where(n => n.OpType == "BatchNormalization" && n.IsStandard).ToArray()
            .Select(bn => GradientBuilder.RewriteBatchNorm(context, bn)).ToList();
        foreach (var o in g.Outputs.ToArray()) g.RemoveOutput(o);
        foreach (var s in layers)
        {
            g.AddOutput(g.GetValue(s.MeanOutput));
            g.AddOutput(g.GetValue(s.VarianceOutput));
        }
        new CleanupPass().Run(stats);

        using var session = OrtSessions.Create(stats, sessionSettings ?? new SessionSettings { AllowSpinning = false });
        var sampler = new BatchSampler(data, batchSize, seed, shuffle: true);
        var sums = layers.ToDictionary(s => s, s => (Mean: new double[0], Var: new double[0]));
        int images = 0;
        for (int b = 0; b < batches; b++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var feeds = sampler.NextBatch().InputsFor([input.Name]);
            var outputs = session.RunTensors(feeds);
            images += batchSize;
            foreach (var s in layers)
            {
                var mean = outputs[s.MeanOutput].AsSpan<float>();
                var variance = outputs[s.VarianceOutput].AsSpan<float>();
                var acc = sums[s];
                if (acc.Mean.Length == 0) sums[s] = acc = (new double[mean.Length], new double[mean.Length]);
                double unbiased = s.ElementsPerChannel > 1 ? s.ElementsPerChannel / (double)(s.ElementsPerChannel - 1) : 1;
                for (int c = 0; c < mean.Length; c++)
                {
                    acc.Mean[c] += mean[c];
                    acc.Var[c] += variance[c] * unbiased;
                }
            }
        }
        var constants = model.Graph.Constants.ToDictionary(c => c.Name, StringComparer.Ordinal);
        foreach (var s in layers)
        {
            var (mean, variance) = sums[s];
            Write(constants[s.MeanName], mean, batches);
            Write(constants[s.VarianceName], variance, batches);
        }
        return new RecalibrationResult(layers.Count, images);
    }

    private static void Write(ConstantTensor constant, double[] sum, int batches)
    {
        var values = sum.Select(v => (float)(v / batches)).ToArray();
        var data = Tensor.FromArray<float>(values, constant.Shape.ToArray());
        constant.Data = constant.ElementType == ElementType.Float ? data
            : throw new UnsupportedModelException($"BN statistics '{constant.Name}' are {constant.ElementType}; only float32 is recalibrated.");
    }
}
