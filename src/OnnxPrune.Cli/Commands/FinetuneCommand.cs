using System.CommandLine;
using System.Globalization;
using OnnxPrune.Graph;
using OnnxPrune.Runtime;
using OnnxPrune.Training;

namespace OnnxPrune.Cli.Commands;

/// <summary>
/// <c>onnxprune finetune IN OUT --data fashion-mnist [...]</c>: fine-tunes a (pruned) classifier on ONNX Runtime, optionally
/// distilling from a teacher and recalibrating BatchNormalization first, and writes the model with the new weights.
/// </summary>
internal static class FinetuneCommand
{
    public static Command Create()
    {
        var input = new Argument<FileInfo>("in") { Description = "The model to fine-tune." };
        var output = new Argument<FileInfo>("out") { Description = "Where to write the fine-tuned model (same graph, new weights)." };
        var data = new Option<string>("--data") { Description = "Data set: fashion-mnist, fashion-mnist:FOLDER, or npy:FOLDER (train_images.npy, train_labels.npy, test_images.npy, test_labels.npy).", DefaultValueFactory = _ => "fashion-mnist" };
        var classes = new Option<string?>("--classes") { Description = "Train and evaluate on these classes only, e.g. 0,3,7." };
        var steps = new Option<int>("--steps") { Description = "Training steps (overrides --epochs)." };
        var epochs = new Option<double>("--epochs") { Description = "Passes over the training data (when --steps is not given).", DefaultValueFactory = _ => 1 };
        var batch = new Option<int>("--batch") { Description = "Images per step.", DefaultValueFactory = _ => 64 };
        var lr = new Option<float?>("--lr") { Description = "Peak learning rate (default 0.01 for sgd, 0.0005 for adamw); cosine decay after warm-up." };
        var optimizer = new Option<string>("--optimizer") { Description = "sgd (momentum 0.9) or adamw.", DefaultValueFactory = _ => "sgd" };
        optimizer.AcceptOnlyFromAmong("sgd", "adamw");
        var weightDecay = new Option<float?>("--weight-decay") { Description = "Weight decay (default 5e-4 for sgd, 0.05 for adamw)." };
        var warmup = new Option<int>("--warmup") { Description = "Linear warm-up steps." };
        var smoothing = new Option<float>("--label-smoothing") { Description = "Label smoothing ε." };
        var teacher = new Option<FileInfo?>("--distill-from") { Description = "Teacher model (e.g. the unpruned one) for knowledge distillation." };
        var distillWeight = new Option<float>("--distill-weight") { Description = "Weight of the distillation term.", DefaultValueFactory = _ => 0.5f };
        var temperature = new Option<float>("--temperature") { Description = "Distillation temperature.", DefaultValueFactory = _ => 4f };
        var recalibrate = new Option<int>("--recalibrate-bn") { Description = "Re-estimate BatchNormalization statistics from this many batches before training." };
        // Batch statistics by default, as fine-tuning does in training mode elsewhere: with frozen statistics a
        // channel whose running variance is tiny amplifies gradients and SGD at lr 0.01 diverged on fmnist-resnet.
        var bnMode = new Option<string>("--bn")
        {
            Description = "BatchNormalization while training: batch (batch statistics, running stats updated) or frozen (running statistics).",
            DefaultValueFactory = _ => "batch",
        };
        bnMode.AcceptOnlyFromAmong("batch", "frozen");
        var seed = new Option<int>("--seed") { Description = "Seed for shuffling and augmentation.", DefaultValueFactory = _ => 1 };
        var threads = new Option<int>("--threads") { Description = "Intra-op threads (0: ONNX Runtime's default)." };
        var provider = RunCommand.ProviderOption();
        var progressInterval = new Option<int>("--progress-interval") { Description = "Report the mean training loss every this many steps.", DefaultValueFactory = _ => 20 };
        var command = new Command("finetune", "Fine-tune a classifier on ONNX Runtime (standard-op backward graph) and write it with the new weights.")
        {
            input, output, data, classes, steps, epochs, batch, lr, optimizer, weightDecay, warmup, smoothing, teacher, distillWeight, temperature,
            recalibrate, bnMode, seed, threads, provider, progressInterval,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var model = OnnxModel.Load(parse.GetValue(input)!.FullName);
            var taskClasses = TaskData.ParseClasses(parse.GetValue(classes));
            var dataSpec = parse.GetValue(data)!;
            long outputs = TaskData.OutputClasses(model);
            var train = TaskData.ForTask(TaskData.Load(dataSpec, train: true), taskClasses, outputs);
            var test = TaskData.ForTask(TaskData.Load(dataSpec, train: false), taskClasses, outputs);
            bool adamw = parse.GetValue(optimizer) == "adamw";
            int seedValue = parse.GetValue(seed);
            var sessionSettings = new SessionSettings { IntraOpThreads = parse.GetValue(threads), Provider = RunCommand.ParseProvider(parse.GetValue(provider)) };
            if (parse.GetValue(recalibrate) is > 0 and var n)
            {
                var r = BatchNormRecalibrator.Recalibrate(model, train, n, parse.GetValue(batch), seedValue, sessionSettings with { AllowSpinning = false }, cancellationToken);
                Console.Error.WriteLine($"recalibrated {r.Layers} BatchNormalization layer(s) from {r.Images} images");
            }
            var teacherFile = parse.GetValue(teacher);
            var options = new TrainerOptions
            {
                BatchSize = parse.GetValue(batch),
                Steps = parse.GetValue(steps),
                Epochs = parse.GetValue(epochs),
                Seed = seedValue,
                IntraOpThreads = parse.GetValue(threads),
                Provider = sessionSettings.Provider,
                BatchNorm = parse.GetValue(bnMode) == "frozen" ? BatchNormMode.Frozen : BatchNormMode.BatchStatistics,
                Optimizer = new OptimizerOptions
                {
                    Kind = adamw ? OptimizerKind.AdamW : OptimizerKind.Sgd,
                    WeightDecay = parse.GetValue(weightDecay) ?? (adamw ? 0.05f : 5e-4f),
                },
                Schedule = new LearningRateSchedule
                {
                    BaseRate = parse.GetValue(lr) ?? (adamw ? 5e-4f : 0.01f), Kind = ScheduleKind.Cosine, WarmupSteps = parse.GetValue(warmup),
                },
                Loss = new LossOptions
                {
                    LabelSmoothing = parse.GetValue(smoothing),
                    DistillationWeight = teacherFile is null ? 0 : parse.GetValue(distillWeight),
                    Temperature = parse.GetValue(temperature),
                },
                Teacher = teacherFile is null ? null : OnnxModel.Load(teacherFile.FullName),
                ProgressInterval = Math.Max(1, parse.GetValue(progressInterval)),
            };
            var before = Evaluator.Evaluate(model, test, 256, sessionSettings, cancellationToken);
            Console.Error.WriteLine(FormattableString.Invariant($"before training: {test.Name} accuracy {before.Accuracy:P2}, loss {before.Loss:F4}"));
            using var trainer = new Trainer(model, options);
            var progress = new StderrProgress();
            var result = await trainer.TrainAsync(train, test, progress, cancellationToken);
            progress.Finish();
            var tuned = trainer.ExportModel();
            tuned.Save(parse.GetValue(output)!.FullName);
            var after = result.Evaluation!;
            Console.WriteLine(FormattableString.Invariant(
                $"{parse.GetValue(output)!.FullName}: {result.Steps} steps in {result.Seconds:F1} s; {test.Name} accuracy {before.Accuracy:P2} → {after.Accuracy:P2}, loss {before.Loss:F4} → {after.Loss:F4}"));
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>
    /// On a terminal, one updating line on stderr with a bar and the time left (a new line per evaluation); redirected,
    /// plain lines that a log keeps.
    /// </summary>
    private sealed class StderrProgress : IProgress<TrainingProgress>
    {
        private const int BarWidth = 20;
        private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
        private bool _open;

        public void Report(TrainingProgress value)
        {
            var line = value.ToString();
            if (Console.IsErrorRedirected) { Console.Error.WriteLine(line); return; }
            double done = value.TotalSteps > 0 ? Math.Clamp((double)value.Step / value.TotalSteps, 0, 1) : 0;
            int filled = (int)Math.Round(done * BarWidth);
            var left = done > 0 ? TimeSpan.FromSeconds(_clock.Elapsed.TotalSeconds * (1 - done) / done) : TimeSpan.Zero;
            var bar = FormattableString.Invariant($"[{new string('#', filled)}{new string('-', BarWidth - filled)}] {done,4:P0} {(int)left.TotalMinutes}:{left.Seconds:D2} left  ");
            if (value.Evaluation is not null) { Console.Error.WriteLine("\r" + bar + line); _open = false; }
            else { Console.Error.Write("\r" + (bar + line).PadRight(120)); _open = true; }
        }

        public void Finish()
        {
            if (_open) Console.Error.WriteLine();
        }
    }
}
