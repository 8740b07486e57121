using System.CommandLine;
using OnnxPrune.Data;
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
        // Every default here is the library's (TrainerOptions.For, FinetuneOptions): the verb only binds.
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
            var kind = parse.GetValue(optimizer) == "adamw" ? OptimizerKind.AdamW : OptimizerKind.Sgd;
            var defaults = TrainerOptions.For(kind);
            var teacherFile = parse.GetValue(teacher);
            var options = new FinetuneOptions
            {
                Data = parse.GetValue(data)!,
                Classes = TaskData.ParseClasses(parse.GetValue(classes)),
                RecalibrationBatches = parse.GetValue(recalibrate),
                Trainer = defaults with
                {
                    BatchSize = parse.GetValue(batch),
                    Steps = parse.GetValue(steps),
                    Epochs = parse.GetValue(epochs),
                    Seed = parse.GetValue(seed),
                    IntraOpThreads = parse.GetValue(threads),
                    BatchNorm = parse.GetValue(bnMode) == "frozen" ? BatchNormMode.Frozen : BatchNormMode.BatchStatistics,
                    Optimizer = defaults.Optimizer with { WeightDecay = parse.GetValue(weightDecay) ?? defaults.Optimizer.WeightDecay },
                    Schedule = defaults.Schedule with { BaseRate = parse.GetValue(lr) ?? defaults.Schedule.BaseRate, WarmupSteps = parse.GetValue(warmup) },
                    Loss = new LossOptions
                    {
                        LabelSmoothing = parse.GetValue(smoothing),
                        DistillationWeight = teacherFile is null ? 0 : parse.GetValue(distillWeight),
                        Temperature = parse.GetValue(temperature),
                    },
                    Teacher = teacherFile is null ? null : OnnxModel.Load(teacherFile.FullName),
                    ProgressInterval = Math.Max(1, parse.GetValue(progressInterval)),
                    Provider = RunCommand.ParseProvider(parse.GetValue(provider)),
                },
            };
            var progress = new StderrProgress();
            var (tuned, report) = await FineTuner.Default.FinetuneAsync(model, options, progress, cancellationToken);
            progress.Finish();
            var outPath = parse.GetValue(output)!.FullName;
            tuned.Save(outPath);
            var (before, after) = (report.Before!, report.After!);
            Console.WriteLine(FormattableString.Invariant(
                $"{outPath}: {report.Training.Steps} steps in {report.Training.Seconds:F1} s; {report.TestData} accuracy {before.Accuracy:P2} → {after.Accuracy:P2}, loss {before.Loss:F4} → {after.Loss:F4}"));
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>
    /// On a terminal, one updating line on stderr with a bar and the time left (a new line per evaluation); redirected,
    /// plain lines that a log keeps.
    /// </summary>
    private sealed class StderrProgress : IProgress<FinetuneProgress>
    {
        private const int BarWidth = 20;
        private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
        private bool _open;

        public void Report(FinetuneProgress report)
        {
            if (report.Training is not { } value)
            {
                if (report.Stage is FinetuneStage.Recalibrate or FinetuneStage.Evaluate && !report.Message.StartsWith("recalibrating", StringComparison.Ordinal))
                    Console.Error.WriteLine(report.Message);
                return;
            }
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
