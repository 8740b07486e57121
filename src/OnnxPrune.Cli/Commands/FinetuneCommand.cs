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
        var data = new Option<string>("--data") { Description = "Data set: fashion-mnist, fashion-mnist:FOLDER, npy:FOLDER (train_images.npy, train_labels.npy, test_images.npy, test_labels.npy), or images:FOLDER (PNG/JPEG, no labels: distillation from --teacher).", DefaultValueFactory = _ => "fashion-mnist" };
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
        var teacher = new Option<FileInfo?>("--teacher", "--distill-from") { Description = "Teacher model (e.g. the unpruned one) for knowledge distillation; with --data images:FOLDER the loss is distillation alone." };
        var outputs = new Option<string?>("--outputs") { Description = "Outputs to distil, comma-separated (default: every float output shared with the teacher)." };
        var imageSize = new Option<string?>("--image-size") { Description = "H,W to resize images:FOLDER data to (default: the model's input)." };
        var mean = new Option<string?>("--mean") { Description = "Per-channel mean for images:FOLDER data after scaling to [0, 1], e.g. 0.485,0.456,0.406." };
        var std = new Option<string?>("--std") { Description = "Per-channel std for images:FOLDER data, e.g. 0.229,0.224,0.225." };
        var bgr = new Option<bool>("--bgr") { Description = "Feed images:FOLDER data as BGR." };
        var clipNorm = new Option<float?>("--clip-norm") { Description = "Clip the gradients' global L2 norm to this (default 5; 0: off)." };
        var batchFree = new Option<bool>("--batch-free") { Description = "Write the model with a symbolic batch dim (default: keep the input's interface)." };
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
            recalibrate, bnMode, seed, threads, provider, progressInterval, outputs, imageSize, mean, std, bgr, batchFree, clipNorm,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var model = OnnxModel.Load(parse.GetValue(input)!.FullName);
            var kind = parse.GetValue(optimizer) == "adamw" ? OptimizerKind.AdamW : OptimizerKind.Sgd;
            var defaults = TrainerOptions.For(kind);
            var teacherFile = parse.GetValue(teacher);
            var dataSpec = parse.GetValue(data)!;
            bool labelFree = dataSpec.StartsWith(FineTuner.ImagesPrefix, StringComparison.Ordinal);
            var teacherModel = teacherFile is null ? null : OnnxModel.Load(teacherFile.FullName);
            var options = new FinetuneOptions
            {
                Data = dataSpec,
                Teacher = labelFree ? teacherModel : null,
                Outputs = parse.GetValue(outputs)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                ImageSize = ParsePair(parse.GetValue(imageSize), "--image-size"),
                Mean = ParseFloats(parse.GetValue(mean), "--mean"),
                Std = ParseFloats(parse.GetValue(std), "--std"),
                Bgr = parse.GetValue(bgr),
                BatchFree = parse.GetValue(batchFree),
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
                        DistillationWeight = teacherFile is null || labelFree ? 0 : parse.GetValue(distillWeight),
                        Temperature = parse.GetValue(temperature),
                    },
                    Teacher = labelFree ? null : teacherModel,
                    ProgressInterval = Math.Max(1, parse.GetValue(progressInterval)),
                    GradientClipNorm = parse.GetValue(clipNorm) ?? defaults.GradientClipNorm,
                    Provider = RunCommand.ParseProvider(parse.GetValue(provider)),
                },
            };
            var progress = new StderrProgress();
            var (tuned, report) = await FineTuner.Default.FinetuneAsync(model, options, progress, cancellationToken);
            progress.Finish();
            var outPath = parse.GetValue(output)!.FullName;
            tuned.Save(outPath);
            if (report.Distillation is { } d)
            {
                Console.WriteLine(FormattableString.Invariant(
                    $"{outPath}: {report.Training.Steps} steps in {report.Training.Seconds:F1} s ({report.Training.ClippedSteps} clipped); distilled {string.Join(", ", d.Outputs)}; mean squared gap to the teacher on {d.Before.Count} held-out images {d.Before.Mean:G4} → {d.After.Mean:G4}"));
                return ExitCodes.Ok;
            }
            var (before, after) = (report.Before!, report.After!);
            Console.WriteLine(FormattableString.Invariant(
                $"{outPath}: {report.Training.Steps} steps in {report.Training.Seconds:F1} s ({report.Training.ClippedSteps} clipped); {report.TestData} accuracy {before.Accuracy:P2} → {after.Accuracy:P2}, loss {before.Loss:F4} → {after.Loss:F4}"));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static (int, int)? ParsePair(string? text, string option)
    {
        if (text is null) return null;
        var v = ParseFloats(text, option)!;
        if (v.Count != 2 || v.Any(x => x < 1 || x != MathF.Round(x))) throw new ArgumentException($"{option} needs two positive integers H,W; got '{text}'.");
        return ((int)v[0], (int)v[1]);
    }

    private static IReadOnlyList<float>? ParseFloats(string? text, string option)
    {
        if (text is null) return null;
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!float.TryParse(parts[i], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out values[i]))
                throw new ArgumentException($"{option}: '{parts[i]}' is not a number.");
        return values;
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
