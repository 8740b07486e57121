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

    /// <summary>
    /// A teacher (e.g. the unpruned model). With <see cref="Data"/> = <c>images:FOLDER</c> (no labels) the run is label-free
    /// distillation: each of <see cref="Outputs"/> learns the teacher's output (MSE for maps and boxes, temperature KL for
    /// logits [B, K]), and the report gives the mean squared gap to the teacher on held-out images before and after.
    /// </summary>
    public OnnxModel? Teacher { get; init; }

    /// <summary>The outputs to distil (by name); null or empty: every float output the student shares with the teacher.</summary>
    public IReadOnlyList<string>? Outputs { get; init; }

    /// <summary>The model input's H×W for <c>images:FOLDER</c> data; null: the model's declared spatial dims.</summary>
    public (int Height, int Width)? ImageSize { get; init; }

    /// <summary>Per-channel mean/std and channel order for <c>images:FOLDER</c> data (after scaling to [0, 1]).</summary>
    public IReadOnlyList<float>? Mean { get; init; }

    /// <inheritdoc cref="Mean"/>
    public IReadOnlyList<float>? Std { get; init; }

    /// <summary>Feed <c>images:FOLDER</c> data as BGR.</summary>
    public bool Bgr { get; init; }

    /// <summary>Every this-many-th image of <c>images:FOLDER</c> is held out to measure the gap (default 5: one in five).</summary>
    public int HoldOutEvery { get; init; } = 5;

    /// <summary>
    /// Write the result batch-free (the batch dim symbolic, Reshape targets rewritten) when the input has a fixed batch;
    /// default false: the saved model keeps the original interface (training and evaluation use a batch-free copy anyway).
    /// </summary>
    public bool BatchFree { get; init; }
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

    /// <summary>Label-free distillation: the distilled outputs and the gap to the teacher on held-out images before and after.</summary>
    public DistillationReport? Distillation { get; init; }

    /// <summary>Wall time per stage in milliseconds (data, recalibrate, evaluate, train, export).</summary>
    public required IReadOnlyDictionary<string, double> TimingsMs { get; init; }
}

/// <summary>What a label-free distillation did.</summary>
/// <param name="Outputs">The distilled outputs.</param>
/// <param name="Losses">The loss of each output.</param>
/// <param name="Before">The gap to the teacher on held-out images before training.</param>
/// <param name="After">The gap after training.</param>
public sealed record DistillationReport(IReadOnlyList<string> Outputs, IReadOnlyList<LossOptions> Losses, DistillationGap Before, DistillationGap After);

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

        if (options.Train is null && options.Data.StartsWith(ImagesPrefix, StringComparison.Ordinal))
            return await DistilAsync(model, options, progress, cancellationToken).ConfigureAwait(false);
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

        var trainingProgress = progress is null ? null : new SynchronousProgress<TrainingProgress>(p => progress.Report(new FinetuneProgress(FinetuneStage.Train, p.ToString(), p)));
        using var run = await Task.Run(() => new Trainer(work, trainer), cancellationToken).ConfigureAwait(false);
        var result = await run.TrainAsync(train, test, trainingProgress, cancellationToken).ConfigureAwait(false);
        Lap("train");

        progress?.Report(new FinetuneProgress(FinetuneStage.Export, "writing the trained weights into the forward model"));
        var tuned = run.ExportModel();
        if (options.BatchFree) tuned = BatchFreeModel.Copy(tuned);
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

    /// <summary>The data-set prefix of an image folder (label-free; needs a teacher).</summary>
    public const string ImagesPrefix = "images:";

    private async Task<FinetuneResult> DistilAsync(OnnxModel model, FinetuneOptions options, IProgress<FinetuneProgress>? progress, CancellationToken ct)
    {
        var teacher = options.Teacher ?? throw new ArgumentException(
            $"'{options.Data}' has no labels: fine-tuning on an image folder is distillation and needs a teacher model.", nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.HoldOutEvery, 2);
        var timings = new Dictionary<string, double>(StringComparer.Ordinal);
        var clock = Stopwatch.StartNew();
        void Lap(string stage) { timings[stage] = clock.Elapsed.TotalMilliseconds; clock.Restart(); }
        var trainer = options.Trainer;
        var settings = new SessionSettings { IntraOpThreads = trainer.IntraOpThreads, AllowSpinning = false, Provider = trainer.Provider };
        string folder = options.Data[ImagesPrefix.Length..];
        var (height, width) = InputSize(model, options.ImageSize);
        progress?.Report(new FinetuneProgress(FinetuneStage.Data, $"loading {folder} at {height}×{width} and running the teacher"));
        var outputs = Distillation.ChooseOutputs(model, teacher, options.Outputs);
        var (train, test) = await Task.Run(() =>
        {
            var all = ImageFolder.Load(folder, new ImageFolderOptions { Height = height, Width = width, Mean = options.Mean, Std = options.Std, Bgr = options.Bgr }, ct);
            var targets = Distillation.WithTeacherTargets(teacher, all, outputs, sessionSettings: settings, cancellationToken: ct);
            var heldOut = Enumerable.Range(0, targets.Count).Where(i => i % options.HoldOutEvery == options.HoldOutEvery - 1).ToArray();
            if (heldOut.Length == 0) heldOut = [targets.Count - 1];
            var trained = Enumerable.Range(0, targets.Count).Except(heldOut).ToArray();
            if (trained.Length == 0) trained = heldOut;
            return (Subset(targets, trained, $"{targets.Name} (train)"), Subset(targets, heldOut, $"{targets.Name} (held out)"));
        }, ct).ConfigureAwait(false);
        Lap("data");
        var losses = Distillation.Losses(train, outputs, trainer.Loss.Temperature);
        var work = OnnxModel.FromBytes(model.ToBytes(), model.SourcePath ?? "model");
        var before = await Task.Run(() => Distillation.Gap(work, test, outputs, sessionSettings: settings, cancellationToken: ct), ct).ConfigureAwait(false);
        progress?.Report(new FinetuneProgress(FinetuneStage.Evaluate, $"before training: gap to the teacher {before}"));
        Lap("evaluate");
        var trainingProgress = progress is null ? null : new SynchronousProgress<TrainingProgress>(p => progress.Report(new FinetuneProgress(FinetuneStage.Train, p.ToString(), p)));
        using var run = await Task.Run(() => new Trainer(work, trainer with { Losses = losses, Teacher = null }), ct).ConfigureAwait(false);
        var result = await run.TrainAsync(train, null, trainingProgress, ct).ConfigureAwait(false);
        Lap("train");
        progress?.Report(new FinetuneProgress(FinetuneStage.Export, "writing the trained weights into the forward model"));
        var tuned = run.ExportModel();
        var after = Distillation.Gap(tuned, test, outputs, sessionSettings: settings, cancellationToken: ct);
        progress?.Report(new FinetuneProgress(FinetuneStage.Evaluate, $"after training: gap to the teacher {after}"));
        if (options.BatchFree) tuned = BatchFreeModel.Copy(tuned);
        Lap("export");
        var report = new FinetuneReport
        {
            TrainData = train.Name, TestData = test.Name, Training = result, TimingsMs = timings,
            Distillation = new DistillationReport(outputs, losses, before, after),
        };
        return new FinetuneResult(tuned, report);
    }

    /// <summary>The H×W to resize images to: the model's declared spatial dims, or <paramref name="given"/> (which must agree with fixed ones).</summary>
    private static (int Height, int Width) InputSize(OnnxModel model, (int Height, int Width)? given)
    {
        var input = model.Graph.DataInputs.FirstOrDefault() ?? throw new UnsupportedModelException("The model has no data input.");
        if (input.Shape is not { Count: 4 } shape)
            throw new UnsupportedModelException($"Image-folder data feed an NCHW input; input '{input.Name}' is {Dim.Format(input.Shape)}.");
        if (shape[1].Value is long ch && ch != 3)
            throw new UnsupportedModelException($"Image-folder data are RGB (3 channels); input '{input.Name}' is {Dim.Format(shape)}.");
        long? h = shape[2].Value, w = shape[3].Value;
        if (given is { } g)
        {
            if ((h is long fh && fh != g.Height) || (w is long fw && fw != g.Width))
                throw new UnsupportedModelException($"Input '{input.Name}' is {Dim.Format(shape)}; the image size {g.Height}×{g.Width} does not fit its fixed spatial dims.");
            return g;
        }
        if (h is null || w is null)
            throw new UnsupportedModelException($"Input '{input.Name}' is {Dim.Format(shape)}: give the image size (--image-size H,W).");
        return ((int)h, (int)w);
    }

    private static TensorDataset Subset(TensorDataset data, int[] indices, string name)
    {
        var batch = data.GetBatch(indices);
        return new TensorDataset(name, batch.Inputs, batch.Targets);
    }
}
