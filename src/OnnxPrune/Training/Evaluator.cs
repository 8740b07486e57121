using Microsoft.ML.OnnxRuntime;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;

namespace OnnxPrune.Training;

/// <summary>Top-1 accuracy and mean cross-entropy of a classifier on a data set.</summary>
/// <param name="Accuracy">Fraction of images whose arg-max logit is the label.</param>
/// <param name="Loss">Mean softmax cross-entropy.</param>
/// <param name="Count">Images evaluated.</param>
public sealed record EvaluationResult(double Accuracy, double Loss, int Count)
{
    /// <summary>Per head, for an evaluation of several heads (<see cref="Evaluator.Evaluate(OnnxModel, IDataset, IReadOnlyList{LossOptions}, int, SessionSettings?, CancellationToken)"/>); null otherwise.</summary>
    public IReadOnlyList<HeadEvaluation>? Heads { get; init; }
}

/// <summary>Evaluates a forward model (first output = logits [N, K]) on ONNX Runtime.</summary>
public static partial class Evaluator
{
    /// <summary>Evaluates <paramref name="model"/> on every image of <paramref name="data"/> in order.</summary>
    /// <exception cref="UnsupportedModelException">The model's first output is not [N, K] with K ≥ the data's class count.</exception>
    public static EvaluationResult Evaluate(OnnxModel model, ImageDataset data, int batchSize = 256, SessionSettings? sessionSettings = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var session = OrtSessions.Create(model, sessionSettings);
        return Evaluate(session, data, batchSize, cancellationToken);
    }

    /// <summary>Evaluates a session's first input → first output on <paramref name="data"/>.</summary>
    public static EvaluationResult Evaluate(InferenceSession session, ImageDataset data, int batchSize = 256, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(data);
        var inputName = session.InputNames[0];
        TaskData.EnsureImagesFit(inputName, session.InputMetadata[inputName].Dimensions.Select(d => (long)d).ToArray(), data);
        var outputName = session.OutputNames[0];
        var sampler = new BatchSampler(data, batchSize, seed: 0, shuffle: false);
        long correct = 0;
        double lossSum = 0;
        foreach (var (images, labels) in sampler.Epochs())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var logits = session.RunTensors(new Dictionary<string, Tensor> { [inputName] = images }, [outputName])[outputName];
            var (c, l) = Score(logits, labels.AsSpan<long>());
            correct += c;
            lossSum += l;
        }
        return new EvaluationResult((double)correct / data.Count, lossSum / data.Count, data.Count);
    }

    /// <summary>Correct count and summed cross-entropy of logits [N, K] against labels.</summary>
    internal static (long Correct, double LossSum) Score(Tensor logits, ReadOnlySpan<long> labels)
    {
        if (logits.Rank != 2 || logits.Shape[0] != labels.Length)
            throw new UnsupportedModelException($"Expected logits [{labels.Length}, K] as the first output; got {logits}.");
        int k = (int)logits.Shape[1];
        var all = logits.ElementType == ElementType.Float ? logits.AsSpan<float>() : logits.ToFloatArray();
        long correct = 0;
        double loss = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            var row = all.Slice(i * k, k);
            int best = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(row);
            if (labels[i] >= k) throw new UnsupportedModelException($"Label {labels[i]} but the model has only {k} outputs.");
            if (best == labels[i]) correct++;
            float max = row[best];
            double sum = 0;
            foreach (var v in row) sum += Math.Exp(v - max);
            loss += Math.Log(sum) + max - row[(int)labels[i]];
        }
        return (correct, loss);
    }
}
