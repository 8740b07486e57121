using System.Diagnostics;
using System.Globalization;
using OnnxPrune;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.MultiTask;
using OnnxPrune.Training;

namespace TrainEmbeddedModels;

/// <summary>
/// Trains the multi-task model (<see cref="EmbeddedModels.MultiTask"/>) on the tasks of a tasks file, with one loss per head,
/// and saves it; every evaluation writes a checkpoint with each task's test metric in the metadata.
/// </summary>
internal static class MultiTaskTraining
{
    public static async Task<int> RunAsync(string[] args)
    {
        string Arg(string name, string fallback)
        {
            int i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }
        var ci = CultureInfo.InvariantCulture;
        int seed = int.Parse(Arg("--seed", "1"), ci);
        double epochs = double.Parse(Arg("--epochs", "4"), ci);
        int batch = int.Parse(Arg("--batch", "128"), ci);
        int threads = int.Parse(Arg("--threads", "0"), ci);
        int warmup = int.Parse(Arg("--warmup", "-1"), ci);
        string output = Arg("--out", Path.Combine("onnx-models", "fmnist-multitask.onnx"));
        string init = Arg("--init", "");
        var spec = TaskFile.Load(Arg("--tasks", Path.Combine("onnx-models", "fmnist-multitask.tasks.yaml")));

        var train = MultiTaskData.Build(FashionMnist.Load(train: true), spec);
        var test = MultiTaskData.Build(FashionMnist.Load(train: false), spec);
        OnnxModel model = init.Length > 0 ? OnnxModel.Load(init) : EmbeddedModels.MultiTask(seed);
        spec.EnsureFits(model);
        int steps = (int)Math.Ceiling(epochs * train.Count / batch);
        var options = new TrainerOptions
        {
            BatchSize = batch, Epochs = epochs, Seed = seed, IntraOpThreads = threads, BatchNorm = BatchNormMode.BatchStatistics,
            Optimizer = new OptimizerOptions { Kind = OptimizerKind.Sgd, Momentum = 0.9f, Nesterov = true, WeightDecay = 5e-4f },
            Schedule = new LearningRateSchedule { BaseRate = float.Parse(Arg("--lr", "0.1"), ci), Kind = ScheduleKind.Cosine, WarmupSteps = warmup >= 0 ? warmup : Math.Min(200, steps / 10) },
            Losses = spec.Losses,
            // No augmentation: the reconstruction target is derived from the un-augmented image.
            Augmentation = Augmentation.None,
            ProgressInterval = 100,
            EvaluationInterval = Math.Max(1, steps / 4),
        };
        Console.WriteLine($"multitask: {model.Graph.Constants.Where(c => c.ElementType == OnnxPrune.Tensors.ElementType.Float).Sum(c => c.ElementCount):N0} parameters, {steps} steps of {batch} ({epochs} epochs), seed {seed}, tasks {string.Join(", ", spec.Tasks.Select(t => $"{t.Name} ({t.Target}, w {t.Weight})"))}");
        var clock = Stopwatch.StartNew();
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
        using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; cts.Cancel(); });
        using var trainer = new Trainer(model, options);
        string Describe(EvaluationResult e) => string.Join(", ", spec.Tasks.Select((t, i) => t.Metric == TaskMetric.Accuracy
            ? $"{t.Name} accuracy {e.Heads![i].Accuracy.ToString("P2", ci)}" : $"{t.Name} mse {e.Heads![i].Loss.ToString("F5", ci)}"));
        void Save(EvaluationResult evaluation, int step)
        {
            var trained = trainer.ExportModel();
            trained.SetMetadata("onnxprune.training", $"TrainEmbeddedModels {string.Join(' ', args)} (step {step}/{steps})");
            trained.SetMetadata("onnxprune.test_metrics", Describe(evaluation));
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
            trained.Save(output);
        }
        try
        {
            await trainer.TrainAsync(train, test, new SynchronousProgress<TrainingProgress>(p =>
            {
                Console.WriteLine($"[{clock.Elapsed:hh\\:mm\\:ss}] {p}");
                if (p.Evaluation is { } e)
                {
                    Console.WriteLine($"[{clock.Elapsed:hh\\:mm\\:ss}] eval {Describe(e)}");
                    Save(e, p.Step);
                }
            }), cts.Token);
        }
        catch (OperationCanceledException)
        {
            Console.WriteLine($"stopped after {trainer.StepsDone} steps; {output} holds the last checkpoint (see its onnxprune.* metadata)");
            return 1;
        }
        var scores = MultiTaskEvaluator.Evaluate(OnnxModel.Load(output), spec, test);
        Console.WriteLine($"saved {output} ({new FileInfo(output).Length:N0} bytes); test {string.Join(", ", scores)}; wall time {clock.Elapsed:hh\\:mm\\:ss}");
        return 0;
    }
}
