using Microsoft.ML.OnnxRuntime;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Pruning.Importance;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;

namespace OnnxPrune.Training;

/// <summary>Per-weight gradient sums over a few batches (see <see cref="GradientStatistics"/>).</summary>
/// <param name="AbsWeightTimesGradient">Per trainable constant: Σ over batches of |w · ∂L/∂w| per element.</param>
/// <param name="SquaredGradient">Per trainable constant: Σ over batches of (∂L/∂w)² per element.</param>
/// <param name="Batches">Batches used.</param>
/// <param name="Samples">Samples used.</param>
public sealed record GradientSums(IReadOnlyDictionary<string, float[]> AbsWeightTimesGradient, IReadOnlyDictionary<string, float[]> SquaredGradient, int Batches, int Samples);

/// <summary>
/// Runs the training graph (<see cref="GradientBuilder"/>, frozen BatchNormalization, the model's own loss on the batch's
/// targets) over a few batches without updating anything, and sums per weight element |w·g| (first-order Taylor) and g²
/// (empirical diagonal Fisher of the batch gradient). The model is only read.
/// </summary>
public static class GradientStatistics
{
    /// <summary>Computes the sums over at most <paramref name="maxBatches"/> batches of <paramref name="data"/> (batches of
    /// another size than the first are skipped, as the training graph has a fixed batch).</summary>
    /// <param name="model">The forward model (float32 weights).</param>
    /// <param name="data">Batches with the model's data input and one target per head (class ids for a classifier).</param>
    /// <param name="maxBatches">Batches to use (≥ 1).</param>
    /// <param name="parameters">Only these constants (null: every trainable one).</param>
    /// <param name="sessionSettings">ONNX Runtime session options; null: defaults without spinning.</param>
    /// <param name="progress">Optional progress (batches done).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <exception cref="ArgumentException">No batch at all.</exception>
    /// <exception cref="UnsupportedModelException">The model cannot be differentiated or the data do not fit it.</exception>
    public static async Task<GradientSums> ComputeAsync(OnnxModel model, IDataProvider data, int maxBatches, IReadOnlySet<string>? parameters = null,
        SessionSettings? sessionSettings = null, IProgress<ImportanceProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatches, 1);
        var settings = sessionSettings ?? new SessionSettings { AllowSpinning = false };
        TrainingGraph? graph = null;
        InferenceSession? session = null;
        var feeds = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var weights = new Dictionary<string, float[]>(StringComparer.Ordinal);
        var absWg = new Dictionary<string, float[]>(StringComparer.Ordinal);
        var g2 = new Dictionary<string, float[]>(StringComparer.Ordinal);
        string[] gradientNames = [];
        TrainableParameter[] used = [];
        int batches = 0, samples = 0;
        try
        {
            await foreach (var batch in data.GetBatchesAsync(cancellationToken).ConfigureAwait(false))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (graph is null)
                {
                    graph = GradientBuilder.Build(model, new GradientBuilderOptions { BatchSize = batch.Count, BatchNorm = BatchNormMode.Frozen });
                    session = OrtSessions.Create(graph.Model, settings with { OptimizationLevel = Trainer.TrainingGraphOptimization });
                    var constants = model.Graph.Constants.ToDictionary(c => c.Name, StringComparer.Ordinal);
                    used = graph.Parameters.Where(p => parameters is null || parameters.Contains(p.Name)).ToArray();
                    foreach (var p in graph.Parameters)
                    {
                        var w = constants[p.Name].Data;
                        feeds[p.Name] = w;
                        if (used.Contains(p)) weights[p.Name] = w.ToFloatArray();
                    }
                    foreach (var p in used)
                    {
                        absWg[p.Name] = new float[p.ElementCount];
                        g2[p.Name] = new float[p.ElementCount];
                    }
                    gradientNames = used.Select(p => p.GradientName).ToArray();
                }
                else if (batch.Count != graph.BatchSize) continue;
                foreach (var (name, tensor) in batch.InputsFor(graph.DataInputs)) feeds[name] = tensor;
                foreach (var head in graph.Heads) feeds[head.TargetInput] = batch.Target(head.Loss.Target);
                foreach (var name in session!.InputNames)
                    if (!feeds.ContainsKey(name))
                        throw new UnsupportedModelException($"The gradient graph of '{model.SourcePath ?? "model"}' needs input '{name}', which the data do not give.");
                if (gradientNames.Length > 0)
                {
                    var outputs = session.RunTensors(feeds, gradientNames);
                    for (int i = 0; i < used.Length; i++)
                    {
                        var g = outputs[gradientNames[i]].ToFloatArray();
                        var w = weights[used[i].Name];
                        var a = absWg[used[i].Name];
                        var s = g2[used[i].Name];
                        for (int e = 0; e < g.Length; e++)
                        {
                            a[e] += Math.Abs(w[e] * g[e]);
                            s[e] += g[e] * g[e];
                        }
                    }
                }
                batches++;
                samples += batch.Count;
                progress?.Report(new ImportanceProgress(batches, maxBatches, "gradient batches"));
                if (batches >= maxBatches) break;
            }
        }
        finally
        {
            session?.Dispose();
        }
        if (batches == 0) throw new ArgumentException("The data gave no batch to compute gradients on.", nameof(data));
        return new GradientSums(absWg, g2, batches, samples);
    }
}
