using System.Diagnostics;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Runtime;

namespace OnnxPrune.Training;

/// <summary>Stages of a fine-tuning run, for progress.</summary>
public enum FinetuneStage
{
    /// <summary>Loading the data set and selecting the task's classes.</summary>
    Data,
    /// <summary>Re-estimating BatchNormalization statistics.</summary>
    Recalibrate,
    /// <summary>Evaluating the model before training.</summary>
    Evaluate,
    /// <summary>Training (each report carries the trainer's <see cref="TrainingProgress"/>).</summary>
    Train,
    /// <summary>Writing the trained weights into a copy of the forward model.</summary>
    Export,
}

/// <summary>Progress of a fine-tuning run.</summary>
/// <param name="Stage">Current stage.</param>
/// <param name="Message">What is happening (for training, the trainer's line).</param>
/// <param name="Training">The trainer's report, during <see cref="FinetuneStage.Train"/>.</param>
public readonly record struct FinetuneProgress(FinetuneStage Stage, string Message, TrainingProgress? Training = null);

/// <summary>What <see cref="FineTuner.FinetuneAsync"/> should do.</summary>
public sealed record FinetuneOptions
{
    /// <summary>
    /// A named data set (<see cref="TaskData.Load"/>: <c>fashion-mnist</c>, <c>fashion-mnist:FOLDER</c>, <c>npy:FOLDER</c>), its
    /// train split for training and test split for evaluation; ignored when <see cref="Train"/> is given.
    /// </summary>
    public string Data { get; init; } = "fashion-mnist";

    /// <summary>Train and evaluate on these classes only (<see cref="TaskData.ForTask"/>); null or empty: all.</summary>
    public IReadOnlyList<int>? Classes { get; init; }

    /// <summary>Training data given directly (any <see cref="IDataset"/>, e.g. with a target per head); wins over <see cref="Data"/>.</summary>
    public IDataset? Train { get; init; }

    /// <summary>Evaluation data given directly (with <see cref="Train"/>); null: no evaluation.</summary>
    public IDataset? Test { get; init; }

    /// <summary>Re-estimate BatchNormalization statistics from this many training batches before training (0: off).</summary>
    public int RecalibrationBatches { get; init; }

    /// <summary>Evaluate before training too (the report's <see cref="FinetuneReport.Before"/>).</summary>
    public bool EvaluateBefore { get; init; } = true;

    /// <summary>Samples per evaluation batch.</summary>
    public int EvaluationBatchSize { get; init; } = 256;

    /// <summary>The trainer's settings (defaults: <see cref="TrainerOptions"/>; <see cref="TrainerOptions.For"/> for another optimizer).</summary>
    public TrainerOptions Trainer { get; init; } = new();
}

/// <summary>What a fine-tuning run did.</summary>
public sealed record FinetuneReport
{
    /// <summary>The training data's name (e.g. "fashion-mnist/train {1,7}").</summary>
    public required string TrainData { get; init; }

    /// <summary>The evaluation data's name, or null without evaluation data.</summary>
    public string? TestData { get; init; }

    /// <summary>The BatchNormalization recalibration, when asked for.</summary>
    public RecalibrationResult? Recalibration { get; init; }

    /// <summary>Evaluation before training (after recalibration), when asked for and there are evaluation data.</summary>
    public EvaluationResult? Before { get; init; }

    /// <summary>The training run (its <see cref="TrainingResult.Evaluation"/> is the evaluation after training).</summary>
    public required TrainingResult Training { get; init; }

    /// <summary>Evaluation after training, or null without evaluation data.</summary>
    public EvaluationResult? After => Training.Evaluation;

    /// <summary>Wall time per stage in milliseconds (data, recalibrate, evaluate, train, export).</summary>
    public required IReadOnlyDictionary<string, double> TimingsMs { get; init; }
}

/// <summary>The fine-tuned model (a new model; the input is not modified) and the report.</summary>
/// <param name="Model">The forward model with the trained weights (same graph as the input).</param>
/// <param name="Report">What was done.</param>
public sealed record FinetuneResult(OnnxModel Model, FinetuneReport Report);

/// <summary>
/// The fine-tuning pipeline: data (named data set and class subset, or data sets given) → BatchNormalization recalibration
/// → evaluation → training → export into a copy of the forward model. The caller's model is never modified (a failed or
/// cancelled run leaves it as it was); saving the result is the caller's (the CLI writes it atomically).
/// </summary>
public sealed class FineTuner
{
    /// <summary>The pipeline.</summary>
    public static FineTuner Default { get; } = new();

    /// <summary>Fine-tunes <paramref name="model"/>; returns to the caller at once and does the work on the thread pool.</summary>
    /// <exception cref="TrainingDivergedException">The loss became NaN or infinite.</exception>
    /// <exception cref="UnsupportedModelException">The data do not fit the model (the message names the input or head).</exception>
    /// <exception cref="DataFormatException">A data file is malformed (the message names it).</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public async Task<FinetuneResult> FinetuneAsync(OnnxModel model, FinetuneOptions options, IProgress<FinetuneProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegative(options.RecalibrationBatches);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.EvaluationBatchSize, 1);
        var timings = new Dictionary<string, double>(StringComparer.Ordinal);
        var clock = Stopwatch.StartNew();
        void Lap(string stage) { timings[stage] = clock.Elapsed.TotalMilliseconds; clock.Restart(); }
        var trainer = options.Trainer;
        var sessionSettings = new SessionSettings { IntraOpThreads = trainer.IntraOpThreads, AllowSpinning = false, Provider = trainer.Provider };

        progress?.Report(new FinetuneProgress(FinetuneStage.Data, options.Train is null ? $"loading {options.Data}" : $"using {options.Train.Name}"));
        var (train, test) = await Task.Run(() => LoadData(model, options), cancellationToken).ConfigureAwait(false);
        Lap("data");

        // Work on a copy: recalibration edits BN statistics, and the caller's model stays as it was whatever happens.
        var work = OnnxModel.FromBytes(model.ToBytes(), model.SourcePath ?? "model");
        RecalibrationResult? recalibration = null;
        if (options.RecalibrationBatches > 0)
        {
            progress?.Report(new FinetuneProgress(FinetuneStage.Recalibrate, $"recalibrating BatchNormalization from {options.RecalibrationBatches} batches"));
            recalibration = await Task.Run(() => BatchNormRecalibrator.Recalibrate(work, train, options.RecalibrationBatches, trainer.BatchSize, trainer.Seed,
                cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
            progress?.Report(new FinetuneProgress(FinetuneStage.Recalibrate, $"recalibrated {recalibration.Layers} BatchNormalization layer(s) from {recalibration.Images} images"));
            Lap("recalibrate");
        }

        EvaluationResult? before = null;
        if (options.EvaluateBefore && test is not null)
        {
            before = await Task.Run(() => Evaluator.EvaluateAsTrained(work, test, trainer.Losses ?? [trainer.Loss], options.EvaluationBatchSize, sessionSettings, cancellationToken), cancellationToken).ConfigureAwait(false);
            progress?.Report(new FinetuneProgress(FinetuneStage.Evaluate,
                FormattableString.Invariant($"before training: {test.Name} accuracy {before.Accuracy:P2}, loss {before.Loss:F4}")));
            Lap("evaluate");
        }

        var trainingProgress = progress is null ? null : new SyncProgress<TrainingProgress>(p => progress.Report(new FinetuneProgress(FinetuneStage.Train, p.ToString(), p)));
        using var run = await Task.Run(() => new Trainer(work, trainer), cancellationToken).ConfigureAwait(false);
        var result = await run.TrainAsync(train, test, trainingProgress, cancellationToken).ConfigureAwait(false);
        Lap("train");

        progress?.Report(new FinetuneProgress(FinetuneStage.Export, "writing the trained weights into the forward model"));
        var tuned = run.ExportModel();
        Lap("export");
        var report = new FinetuneReport
        {
            TrainData = train.Name, TestData = test?.Name, Recalibration = recalibration, Before = before, Training = result, TimingsMs = timings,
        };
        return new FinetuneResult(tuned, report);
    }

    /// <summary>
    /// The training and evaluation data of <paramref name="options"/>: the data sets given, or the named data set's splits
    /// restricted to the task's classes (labels kept as class ids when the model's head still has every class).
    /// </summary>
    public static (IDataset Train, IDataset? Test) LoadData(OnnxModel model, FinetuneOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Train is not null) return (options.Train, options.Test);
        long outputs = TaskData.OutputClasses(model);
        var train = TaskData.ForTask(TaskData.Load(options.Data, train: true), options.Classes, outputs);
        var test = TaskData.ForTask(TaskData.Load(options.Data, train: false), options.Classes, outputs);
        return (train, test);
    }

    /// <summary>Reports synchronously on the reporting thread (no SynchronizationContext hop).</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
