using Microsoft.ML.OnnxRuntime;
using System.Diagnostics;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;

namespace OnnxPrune.Training;

/// <summary>
/// Fine-tunes (or trains) a forward ONNX model on ONNX Runtime: builds the training graph once, runs it through one
/// <see cref="RunBinding"/> (weights live in the bound input buffers and are updated there in place by the C# optimizer),
/// reports progress, evaluates on held-out data, and exports the trained weights into the original forward model.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly OnnxModel _forward;
    private readonly TrainerOptions _options;
    private readonly TrainingGraph _graph;
    private readonly InferenceSession _session;
    private readonly RunBinding _binding;
    private readonly InferenceSession? _teacher;
    private readonly RunBinding? _teacherBinding;
    private readonly Optimizer _optimizer;
    private readonly Dictionary<string, float[]> _runningStats = new(StringComparer.Ordinal);
    private readonly SessionSettings _sessionSettings;

    /// <summary>
    /// ONNX Runtime's optimization level for the training graph. Extended, not All: the layout level (NCHWc) only
    /// rewrites convs with constant weights, which in a training graph are just the one-hot im2col kernels of the
    /// weight gradients, and there its layout round trip (ReorderOutput) costs more than it saves: 10–15 % of a
    /// ResNet step (tools/TrainingBenchmark). Evaluation and teacher sessions keep the default (All).
    /// </summary>
    public static GraphOptimizationLevel TrainingGraphOptimization => GraphOptimizationLevel.ORT_ENABLE_EXTENDED;

    /// <summary>Prepares training of <paramref name="forward"/> (which is not modified until <see cref="ExportModel"/>'s copy).</summary>
    /// <exception cref="UnsupportedModelException">The model cannot be differentiated (the message names the node).</exception>
    public Trainer(OnnxModel forward, TrainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(forward);
        _forward = forward;
        _options = options ?? new TrainerOptions();
        // A fixed-batch export trains on a batch-free copy; ExportModel writes into the original (same interface).
        _graph = GradientBuilder.Build(BatchFreeModel.For(forward, _options.BatchSize), new GradientBuilderOptions
        {
            BatchSize = _options.BatchSize, Losses = ResolveLosses(_options), BatchNorm = _options.BatchNorm, IsTrainable = _options.IsTrainable,
        });
        if (_graph.DataInputs.Count != 1) throw new UnsupportedModelException($"The trainer feeds one image input; the model has {_graph.DataInputs.Count} data inputs.");
        _sessionSettings = new SessionSettings { IntraOpThreads = _options.IntraOpThreads, AllowSpinning = false, Provider = _options.Provider };
        _session = OrtSessions.Create(_graph.Model, _sessionSettings with { OptimizationLevel = TrainingGraphOptimization });

        var constants = forward.Graph.Constants.ToDictionary(c => c.Name, StringComparer.Ordinal);
        var feeds = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, meta) in _session.InputMetadata)
            feeds[name] = constants.TryGetValue(name, out var c) && _graph.Parameters.Any(p => p.Name == name)
                ? c.Data
                : Tensor.Zeros(meta.OnnxPruneElementType(), meta.Dimensions.Select(d => (long)Math.Max(d, 1)).ToArray());
        _binding = _session.CreateBinding(feeds);
        foreach (var s in _graph.BatchNorm)
        {
            _runningStats[s.MeanName] = constants[s.MeanName].Data.ToFloatArray();
            _runningStats[s.VarianceName] = constants[s.VarianceName].Data.ToFloatArray();
        }
        if (_options.Teacher is { } teacher)
        {
            _teacher = OrtSessions.Create(BatchFreeModel.For(teacher, _options.BatchSize), _sessionSettings);
            var x = _binding.Inputs[_graph.DataInputs[0]];
            _teacherBinding = _teacher.CreateBinding(new Dictionary<string, Tensor> { [_teacher.InputNames[0]] = x }, [_teacher.OutputNames[0]]);
        }
        _optimizer = Optimizer.Create(_options.Optimizer, _graph.Parameters);
    }

    /// <summary>
    /// The heads to train: <see cref="TrainerOptions.Losses"/> or <see cref="TrainerOptions.Loss"/>; with a teacher and no
    /// distilling head, the first cross-entropy head distils with weight 0.5.
    /// </summary>
    private static LossOptions[] ResolveLosses(TrainerOptions options)
    {
        var losses = (options.Losses ?? [options.Loss]).ToArray();
        if (losses.Length == 0) throw new ArgumentException("At least one loss is needed.", nameof(options));
        bool distils = losses.Any(l => l.DistillationWeight > 0);
        if (options.Teacher is null && distils) throw new ArgumentException("Distillation needs a teacher model.", nameof(options));
        if (options.Teacher is not null && !distils)
        {
            int ce = Array.FindIndex(losses, l => l.Kind == LossKind.SoftmaxCrossEntropy);
            if (ce < 0) throw new ArgumentException("A teacher is given but no head is a cross-entropy head to distil into.", nameof(options));
            losses[ce] = losses[ce] with { DistillationWeight = 0.5f };
        }
        return losses;
    }

    /// <summary>The training graph in use.</summary>
    public TrainingGraph Graph => _graph;

    /// <summary>Steps run so far.</summary>
    public int StepsDone { get; private set; }

    /// <summary>
    /// Runs the configured steps (or epochs) on <paramref name="train"/>, reporting through <paramref name="progress"/>, and
    /// evaluates on <paramref name="validation"/> when given. Deterministic for a seed and thread count. Any
    /// <see cref="IDataset"/> trains: an <see cref="ImageDataset"/> (class ids) or one with a target per head
    /// (<see cref="TensorDataset"/>; each head reads the target its <see cref="LossOptions.Target"/> names).
    /// </summary>
    /// <exception cref="OperationCanceledException">Cancelled (the weights keep the last completed step).</exception>
    /// <exception cref="UnsupportedModelException">The data do not fit the model's input or a head's target (the message names it).</exception>
    public Task<TrainingResult> TrainAsync(IDataset train, IDataset? validation = null, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        return Task.Run(() => Train(train, validation, progress, cancellationToken), cancellationToken);
    }

    private TrainingResult Train(IDataset train, IDataset? validation, IProgress<TrainingProgress>? progress, CancellationToken ct)
    {
        int batch = _graph.BatchSize;
        var sampler = new BatchSampler(train, batch, _options.Seed, shuffle: true, _options.Augmentation);
        int total = _options.Steps > 0 ? _options.Steps : (int)Math.Ceiling(_options.Epochs * train.Count / batch);
        var xName = _graph.DataInputs[0];
        var x = _binding.Inputs[xName];
        if (train is ImageDataset trainImages) TaskData.EnsureImagesFit(xName, x.Shape, trainImages);
        if (validation is ImageDataset validationImages) TaskData.EnsureImagesFit(xName, x.Shape, validationImages);
        var feeder = new HeadFeeder(_graph, _binding.Inputs);
        var headLoss = new double[_graph.Heads.Count];
        var weights = _graph.Parameters.Select(p => _binding.Inputs[p.Name]).ToArray();
        var clock = Stopwatch.StartNew();
        double windowLoss = 0, windowCorrect = 0, lastLoss = double.NaN;
        int windowSteps = 0, clipped = 0;
        long windowStart = clock.ElapsedTicks;
        EvaluationResult? evaluation = null;
        IReadOnlyDictionary<string, double>? lastHeadLosses = null;
        for (int step = 0; step < total; step++)
        {
            ct.ThrowIfCancellationRequested();
            var images = feeder.Feed(sampler.NextBatch(), train.Name);
            if (_teacherBinding is not null)
            {
                images.RawData.CopyTo(_teacherBinding.Inputs.Values.First().RawData, 0);
                _teacherBinding.Run();
                _teacherBinding.Outputs.Values.First().RawData.CopyTo(_binding.Inputs[_graph.TeacherInput!].RawData, 0);
            }
            _binding.Run();
            float stepLoss = _binding.Outputs[_graph.LossOutput].AsSpan<float>()[0];
            if (!float.IsFinite(stepLoss)) throw Diverged(stepLoss, step, total);
            float rate = _options.Schedule.Rate(step, total);
            if (ClipGradients()) clipped++;
            _optimizer.BeginStep();
            for (int i = 0; i < weights.Length; i++)
                _optimizer.Update(i, weights[i].AsSpan<float>(), _binding.Outputs[_graph.Parameters[i].GradientName].AsSpan<float>(), rate);
            UpdateRunningStatistics();
            StepsDone++;
            windowLoss += stepLoss;
            if (_graph.Heads.Count > 1)
                for (int h = 0; h < headLoss.Length; h++) headLoss[h] += _binding.Outputs[_graph.Heads[h].LossOutput].AsSpan<float>()[0];
            if (_graph.CorrectOutput is { } co) windowCorrect += _binding.Outputs[co].AsSpan<float>()[0];
            windowSteps++;
            bool last = step == total - 1;
            bool evalNow = validation is not null && (last || (_options.EvaluationInterval > 0 && (step + 1) % _options.EvaluationInterval == 0)
                || (_options.EvaluationSteps?.Contains(step + 1) ?? false));
            if (evalNow) evaluation = Evaluator.EvaluateAsTrained(ExportModel(), validation!, _graph.Heads.Select(h => h.Loss with { Output = h.Output }).ToArray(), 256, _sessionSettings, ct);
            if (last || evalNow || (step + 1) % Math.Max(1, _options.ProgressInterval) == 0)
            {
                double seconds = (clock.ElapsedTicks - windowStart) / (double)Stopwatch.Frequency;
                lastLoss = windowLoss / windowSteps;
                progress?.Report(new TrainingProgress(step + 1, total, (double)(step + 1) * batch / train.Count, lastLoss,
                    _graph.CorrectOutput is null ? double.NaN : windowCorrect / (windowSteps * batch), windowSteps * batch / Math.Max(seconds, 1e-9), rate,
                    evalNow ? evaluation : null) { HeadLosses = HeadLosses(headLoss, windowSteps) });
                lastHeadLosses = HeadLosses(headLoss, windowSteps);
                Array.Clear(headLoss);
                windowLoss = windowCorrect = 0;
                windowSteps = 0;
                windowStart = clock.ElapsedTicks;
            }
        }
        return new TrainingResult(total, lastLoss, evaluation, clock.Elapsed.TotalSeconds) { HeadLosses = lastHeadLosses, ClippedSteps = clipped };
    }

    /// <summary>Scales every gradient by clip/norm when their global L2 norm exceeds <see cref="TrainerOptions.GradientClipNorm"/>; true when it did.</summary>
    private bool ClipGradients()
    {
        float clip = _options.GradientClipNorm;
        if (clip <= 0) return false;
        double sumSquares = 0;
        foreach (var p in _graph.Parameters)
            sumSquares += System.Numerics.Tensors.TensorPrimitives.SumOfSquares(_binding.Outputs[p.GradientName].AsSpan<float>());
        double norm = Math.Sqrt(sumSquares);
        if (!(norm > clip)) return false;
        float scale = (float)(clip / norm);
        foreach (var p in _graph.Parameters)
        {
            var g = _binding.Outputs[p.GradientName].AsSpan<float>();
            System.Numerics.Tensors.TensorPrimitives.Multiply(g, scale, g);
        }
        return true;
    }

    /// <summary>The divergence error with a hint that fits the model: BN advice only when it has BatchNormalization.</summary>
    private TrainingDivergedException Diverged(float loss, int step, int total)
    {
        float rate = _options.Schedule.Rate(step, total);
        var hints = new List<string> { FormattableString.Invariant($"lower the learning rate (e.g. --lr {rate / 10:G2})") };
        if (_options.Schedule.WarmupSteps == 0) hints.Add("add warm-up (--warmup 100)");
        if (_options.GradientClipNorm <= 0) hints.Add("turn gradient clipping back on");
        else hints.Add(FormattableString.Invariant($"clip harder (--clip-norm {Math.Max(_options.GradientClipNorm / 5, 0.1f):G2})"));
        if (_options.Optimizer.Kind == OptimizerKind.Sgd) hints.Add("try --optimizer adamw");
        bool hasBatchNorm = _forward.Graph.Nodes.Any(n => n.OpType == "BatchNormalization" && n.IsStandard);
        if (hasBatchNorm && _options.BatchNorm == BatchNormMode.Frozen) hints.Add("train BatchNormalization with batch statistics (--bn batch)");
        return new TrainingDivergedException(FormattableString.Invariant(
            $"The loss is {loss} at step {step + 1} of {total} (learning rate {rate:G3}). ") +
            $"{char.ToUpperInvariant(hints[0][0])}{hints[0][1..]}, {string.Join(", ", hints.Skip(1).SkipLast(1))}{(hints.Count > 2 ? ", " : "")}or {hints[^1]}; nothing was written.");
    }

    /// <summary>Mean loss per head output over a reporting window; null for a single head (its loss is the total).</summary>
    private IReadOnlyDictionary<string, double>? HeadLosses(double[] sums, int steps) =>
        _graph.Heads.Count < 2 ? null : _graph.Heads.Select((h, i) => (h.Output, sums[i] / Math.Max(1, steps))).ToDictionary(t => t.Output, t => t.Item2, StringComparer.Ordinal);

    private void UpdateRunningStatistics()
    {
        foreach (var s in _graph.BatchNorm)
        {
            var mean = _runningStats[s.MeanName];
            var variance = _runningStats[s.VarianceName];
            var batchMean = _binding.Outputs[s.MeanOutput].AsSpan<float>();
            var batchVar = _binding.Outputs[s.VarianceOutput].AsSpan<float>();
            float m = s.Momentum;
            float unbiased = s.ElementsPerChannel > 1 ? s.ElementsPerChannel / (float)(s.ElementsPerChannel - 1) : 1f;
            for (int c = 0; c < mean.Length; c++)
            {
                mean[c] = mean[c] * m + batchMean[c] * (1 - m);
                variance[c] = variance[c] * m + batchVar[c] * unbiased * (1 - m);
            }
        }
    }

    /// <summary>
    /// A copy of the original forward model holding the current weights (and running statistics), with nothing of the
    /// training graph in it: same inputs, outputs, nodes and constant kinds (initializers stay initializers, Constant nodes
    /// stay Constant nodes).
    /// </summary>
    public OnnxModel ExportModel()
    {
        var copy = OnnxModel.FromBytes(_forward.ToBytes(), _forward.SourcePath ?? "forward");
        var constants = copy.Graph.Constants.ToDictionary(c => c.Name, StringComparer.Ordinal);
        foreach (var p in _graph.Parameters)
        {
            var bound = _binding.Inputs[p.Name];
            constants[p.Name].Data = new Tensor(ElementType.Float, bound.Dims, bound.RawData.ToArray());
        }
        foreach (var (name, values) in _runningStats)
        {
            var c = constants[name];
            c.Data = Tensor.FromArray<float>(values, c.Shape.ToArray());
        }
        return copy;
    }

    /// <summary>Releases the ONNX Runtime sessions.</summary>
    public void Dispose()
    {
        _binding.Dispose();
        _session.Dispose();
        _teacherBinding?.Dispose();
        _teacher?.Dispose();
    }
}
