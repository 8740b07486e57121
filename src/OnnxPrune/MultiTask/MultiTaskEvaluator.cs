using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Runtime;
using OnnxPrune.Training;

namespace OnnxPrune.MultiTask;

/// <summary>One task's score on held-out data.</summary>
/// <param name="Task">The task's name.</param>
/// <param name="Metric">Which metric <see cref="Value"/> is.</param>
/// <param name="Value">Top-1 accuracy in [0, 1] or mean squared error per element.</param>
/// <param name="Loss">The task's mean loss (as in training, unweighted).</param>
public sealed record TaskScore(string Task, TaskMetric Metric, double Value, double Loss)
{
    /// <summary>"accuracy" or "mse" (the JSON key).</summary>
    public string MetricName => Metric == TaskMetric.Accuracy ? "accuracy" : "mse";

    /// <summary>e.g. "class accuracy 91.20 %" or "reconstruction mse 0.00612".</summary>
    public override string ToString() => Metric == TaskMetric.Accuracy
        ? FormattableString.Invariant($"{Task} accuracy {Value:P2}")
        : FormattableString.Invariant($"{Task} mse {Value:F5}");
}

/// <summary>Scores every task of a multi-task model (through <see cref="Evaluator"/>, one pass over the data).</summary>
public static class MultiTaskEvaluator
{
    /// <summary>Each task's metric on <paramref name="data"/> (built by <see cref="MultiTaskData.Build"/>), in task order.</summary>
    /// <exception cref="UnsupportedModelException">A task's output is missing or does not fit its target.</exception>
    public static IReadOnlyList<TaskScore> Evaluate(OnnxModel model, MultiTaskSpec spec, IDataset data, int batchSize = 256,
        SessionSettings? sessionSettings = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(data);
        spec.EnsureFits(model);
        var result = Evaluator.Evaluate(model, data, spec.Losses, batchSize, sessionSettings, cancellationToken);
        return spec.Tasks.Select((t, i) =>
        {
            var head = result.Heads![i];
            double value = t.Metric == TaskMetric.Accuracy ? head.Accuracy : head.Loss;
            return new TaskScore(t.Name, t.Metric, value, head.Loss);
        }).ToArray();
    }

    /// <summary>
    /// The tasks whose output is the same for every sample of the first <paramref name="samples"/> samples of
    /// <paramref name="data"/> (within 1e-6 relative): a collapsed network (dead ReLUs upstream, the head answering with its
    /// bias alone), whatever its metric says. Empty for a healthy model.
    /// </summary>
    /// <exception cref="UnsupportedModelException">A task's output is missing.</exception>
    public static IReadOnlyList<string> ConstantOutputTasks(OnnxModel model, MultiTaskSpec spec, IDataset data, int samples = 256,
        SessionSettings? sessionSettings = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(samples, 2);
        spec.EnsureFits(model);
        int n = Math.Min(samples, data.Count);
        if (n < 2) return [];
        (model, int batch) = Evaluator.ForEvaluation(model, n);
        var outputs = spec.Tasks.Select(t => t.Output).Distinct().ToArray();
        var dataInputs = model.Graph.DataInputs.Select(v => v.Name).ToArray();
        using var session = OrtSessions.Create(model, sessionSettings ?? new SessionSettings());
        var first = new Dictionary<string, float[]>(StringComparer.Ordinal);
        var varies = new HashSet<string>(StringComparer.Ordinal);
        for (int start = 0; start < n; start += batch)
        {
            var b = data.GetBatch(Enumerable.Range(start, Math.Min(batch, n - start)).ToArray());
            var results = session.RunTensors(b.InputsFor(dataInputs), outputs);
            foreach (var o in outputs)
            {
                var z = results[o].ToFloatArray();
                int per = z.Length / b.Count;
                if (!first.TryGetValue(o, out var reference)) first[o] = reference = z[..per];
                for (int i = 0; i < z.Length && !varies.Contains(o); i++)
                    if (!(Math.Abs(z[i] - reference[i % per]) <= 1e-6 * (1 + Math.Abs(reference[i % per])))) varies.Add(o);
            }
        }
        return spec.Tasks.Where(t => !varies.Contains(t.Output)).Select(t => t.Name).ToArray();
    }

    /// <summary>Each task's score as a dictionary task → (metric name → value): {"accuracy": …} or {"mse": …}, the shape of <c>eval --tasks --json</c>.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> ToJsonShape(IEnumerable<TaskScore> scores) =>
        scores.ToDictionary(s => s.Task, s => (IReadOnlyDictionary<string, double>)new Dictionary<string, double> { [s.MetricName] = s.Value },
            StringComparer.Ordinal);
}
