using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;

namespace OnnxPrune.Training;

/// <summary>The score of one head of a model on a data set.</summary>
/// <param name="Output">The model output.</param>
/// <param name="Kind">Its loss.</param>
/// <param name="Loss">Mean loss: per sample for cross-entropy, per element for MSE, L1 and BCE (as in training).</param>
/// <param name="Accuracy">Top-1 accuracy for a cross-entropy head; NaN for the others.</param>
public sealed record HeadEvaluation(string Output, LossKind Kind, double Loss, double Accuracy);

public static partial class Evaluator
{
    /// <summary>
    /// Scores a model the way it trains: top-1 and cross-entropy of the first output for one cross-entropy head on image
    /// data (exactly the single-head numbers), else each head (the per-head overload).
    /// </summary>
    internal static EvaluationResult EvaluateAsTrained(OnnxModel model, IDataset data, IReadOnlyList<LossOptions> heads, int batchSize,
        SessionSettings sessionSettings, CancellationToken cancellationToken)
    {
        (model, batchSize) = ForEvaluation(model, batchSize);
        return data is ImageDataset images && heads.Count == 1 && heads[0].Kind == LossKind.SoftmaxCrossEntropy && IsFirstOutput(model, heads[0])
            ? Evaluate(model, images, batchSize, sessionSettings, cancellationToken)
            : Evaluate(model, data, heads, batchSize, sessionSettings, cancellationToken);
    }

    /// <summary>
    /// The model and batch size to evaluate with: a fixed-batch export is evaluated on its batch-free copy, or, where no
    /// exact copy exists, in batches no larger than its fixed batch.
    /// </summary>
    internal static (OnnxModel Model, int BatchSize) ForEvaluation(OnnxModel model, int batchSize)
    {
        if (Graph.Passes.SymbolicBatchPass.FixedBatch(model) is not long n || n == batchSize) return (model, batchSize);
        try { return (BatchFreeModel.Copy(model), batchSize); }
        catch (UnsupportedModelException) { return (model, (int)Math.Min(n, batchSize)); }
    }

    private static bool IsFirstOutput(OnnxModel model, LossOptions head) =>
        head.Output is { } name ? model.Graph.Outputs.Count > 0 && model.Graph.Outputs[0].Name == name : head.OutputIndex == 0;

    /// <summary>
    /// Scores every head of <paramref name="model"/> on <paramref name="data"/> (in order): each <see cref="LossOptions"/>
    /// names its output and the target it reads, as in training. The result's <see cref="EvaluationResult.Accuracy"/> is the
    /// first cross-entropy head's (NaN without one), its <see cref="EvaluationResult.Loss"/> the weighted sum of head losses
    /// (distillation terms left out), and <see cref="EvaluationResult.Heads"/> lists each head.
    /// </summary>
    /// <exception cref="UnsupportedModelException">A head's output and target do not fit (the message names both).</exception>
    public static EvaluationResult Evaluate(OnnxModel model, IDataset data, IReadOnlyList<LossOptions> heads, int batchSize = 256,
        SessionSettings? sessionSettings = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(heads);
        if (heads.Count == 0) throw new ArgumentException("At least one head is needed.", nameof(heads));
        var graphOutputs = model.Graph.Outputs;
        var outputs = heads.Select(h => h.Output ?? (h.OutputIndex >= 0 && h.OutputIndex < graphOutputs.Count ? graphOutputs[h.OutputIndex].Name
            : throw new ArgumentException($"Loss output index {h.OutputIndex} is out of range ({graphOutputs.Count} outputs).", nameof(heads)))).ToArray();
        var dataInputs = model.Graph.DataInputs.Select(v => v.Name).ToArray();
        using var session = OrtSessions.Create(model, sessionSettings ?? new SessionSettings());
        var lossSum = new double[heads.Count];
        var correct = new long[heads.Count];
        var elements = new long[heads.Count];
        var sampler = new BatchSampler(data, batchSize, seed: 0, shuffle: false);
        foreach (var batch in sampler.Batches())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var results = session.RunTensors(batch.InputsFor(dataInputs), outputs.Distinct().ToArray());
            for (int h = 0; h < heads.Count; h++)
            {
                var z = results[outputs[h]];
                var target = batch.Target(heads[h].Target);
                if (heads[h].Kind == LossKind.SoftmaxCrossEntropy)
                {
                    if (target.ElementType != ElementType.Int64)
                        throw new UnsupportedModelException($"{data.Name}: the cross-entropy head on '{outputs[h]}' needs int64 class ids; its target is {target}.");
                    var (c, l) = Score(z, target.AsSpan<long>());
                    correct[h] += c;
                    lossSum[h] += l;
                    elements[h] += target.ElementCount;
                    continue;
                }
                if (heads[h].Kind == LossKind.KLDivergence)
                {
                    lossSum[h] += KLDivergence(z, target, heads[h].Temperature, outputs[h]);
                    elements[h] += z.Shape[0];
                    continue;
                }
                var zf = z.ToFloatArray();
                var yf = target.ToFloatArray();
                if (zf.Length != yf.Length)
                    throw new UnsupportedModelException($"{data.Name}: output '{outputs[h]}' is {z} but its {heads[h].Kind} target is {target}.");
                for (int i = 0; i < zf.Length; i++)
                {
                    double d = zf[i] - yf[i];
                    lossSum[h] += heads[h].Kind switch
                    {
                        LossKind.MeanSquaredError => d * d,
                        LossKind.L1 => Math.Abs(d),
                        // softplus(z) − y·z, computed stably
                        _ => Math.Max(zf[i], 0) + Math.Log(1 + Math.Exp(-Math.Abs(zf[i]))) - yf[i] * zf[i],
                    };
                }
                elements[h] += zf.Length;
            }
        }
        var scored = heads.Select((spec, h) => new HeadEvaluation(outputs[h], spec.Kind, lossSum[h] / Math.Max(1, elements[h]),
            spec.Kind == LossKind.SoftmaxCrossEntropy ? (double)correct[h] / Math.Max(1, elements[h]) : double.NaN)).ToArray();
        double accuracy = scored.FirstOrDefault(s => s.Kind == LossKind.SoftmaxCrossEntropy)?.Accuracy ?? double.NaN;
        double loss = scored.Select((s, h) => heads[h].Weight * s.Loss).Sum();
        return new EvaluationResult(accuracy, loss, data.Count) { Heads = scored };
    }

    /// <summary>Summed T²·KL(softmax(t/T) ‖ softmax(z/T)) over the rows of logits z [B, K] and teacher logits t.</summary>
    private static double KLDivergence(Tensor z, Tensor t, float temperature, string output)
    {
        if (z.Rank != 2 || z.ElementCount != t.ElementCount)
            throw new UnsupportedModelException($"KL distillation on '{output}' needs logits [B, K] and teacher logits of the same shape; got {z} and {t}.");
        int k = (int)z.Shape[1];
        var zf = z.ToFloatArray();
        var tf = t.ToFloatArray();
        double sum = 0;
        for (int r = 0; r < z.Shape[0]; r++)
        {
            var lq = LogSoftmax(zf.AsSpan(r * k, k), temperature);
            var lt = LogSoftmax(tf.AsSpan(r * k, k), temperature);
            for (int i = 0; i < k; i++) sum += Math.Exp(lt[i]) * (lt[i] - lq[i]);
        }
        return sum * temperature * temperature;
    }

    private static double[] LogSoftmax(ReadOnlySpan<float> row, float temperature)
    {
        double max = double.NegativeInfinity;
        foreach (var v in row) max = Math.Max(max, v / temperature);
        double sum = 0;
        foreach (var v in row) sum += Math.Exp(v / temperature - max);
        double log = Math.Log(sum) + max;
        var result = new double[row.Length];
        for (int i = 0; i < row.Length; i++) result[i] = row[i] / temperature - log;
        return result;
    }
}
