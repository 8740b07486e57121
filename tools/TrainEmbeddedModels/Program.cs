using System.Diagnostics;
using System.Globalization;
using OnnxPrune;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Training;
using TrainEmbeddedModels;

// Trains an embedded default model from scratch with OnnxPrune's own trainer (ONNX Runtime, CPU) and saves it.
//   dotnet run --project tools/TrainEmbeddedModels -c Release -- resnet [--epochs 8] [--seed 1] [--out onnx-models/fmnist-resnet.onnx]
//   dotnet run --project tools/TrainEmbeddedModels -c Release -- vit    [--epochs 12] [--seed 1] [--out onnx-models/fmnist-vit.onnx]
//   dotnet run --project tools/TrainEmbeddedModels -c Release -- multitask [--epochs 4] [--seed 1] [--tasks onnx-models/fmnist-multitask.tasks.yaml] [--out onnx-models/fmnist-multitask.onnx]
if (args.Length > 0 && args[0] == "multitask") return await MultiTaskTraining.RunAsync(args);
if (args.Length == 0 || args[0] is not ("resnet" or "vit"))
{
    Console.Error.WriteLine("usage: TrainEmbeddedModels resnet|vit|multitask [--epochs E] [--seed S] [--batch B] [--lr X] [--threads T] [--train-limit N] [--out FILE] [--init MODEL] [--augment yes|no] [--warmup STEPS]");
    return 2;
}
string kind = args[0];
string Arg(string name, string fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}
var ci = CultureInfo.InvariantCulture;
int seed = int.Parse(Arg("--seed", "1"), ci);
double epochs = double.Parse(Arg("--epochs", kind == "resnet" ? "8" : "12"), ci);
int batch = int.Parse(Arg("--batch", "128"), ci);
int threads = int.Parse(Arg("--threads", "0"), ci);
int trainLimit = int.Parse(Arg("--train-limit", "0"), ci);
string output = Arg("--out", Path.Combine("onnx-models", kind == "resnet" ? "fmnist-resnet.onnx" : "fmnist-vit.onnx"));

var train = FashionMnist.Load(train: true);
if (trainLimit > 0) train = train.TakePerClass(trainLimit / 10, seed);
var test = FashionMnist.Load(train: false);
// --init continues from a saved model (a second, shorter phase) instead of fresh seeded weights.
string init = Arg("--init", "");
OnnxModel model = init.Length > 0 ? OnnxModel.Load(init) : kind == "resnet" ? EmbeddedModels.ResNet(seed) : EmbeddedModels.ViT(seed);
var augmentation = Arg("--augment", "yes") == "no" ? Augmentation.None : new Augmentation { RandomCropPadding = 2, HorizontalFlip = true };
int warmup = int.Parse(Arg("--warmup", "-1"), ci);
int steps = (int)Math.Ceiling(epochs * train.Count / batch);
var options = kind == "resnet"
    ? new TrainerOptions
    {
        BatchSize = batch, Epochs = epochs, Seed = seed, IntraOpThreads = threads, BatchNorm = BatchNormMode.BatchStatistics,
        Optimizer = new OptimizerOptions { Kind = OptimizerKind.Sgd, Momentum = 0.9f, Nesterov = true, WeightDecay = 5e-4f },
        Schedule = new LearningRateSchedule { BaseRate = float.Parse(Arg("--lr", "0.1"), ci), Kind = ScheduleKind.Cosine, WarmupSteps = warmup >= 0 ? warmup : Math.Min(200, steps / 10) },
        Loss = new LossOptions { LabelSmoothing = 0.05f },
        Augmentation = augmentation,
        ProgressInterval = 100,
        EvaluationInterval = Math.Max(1, steps / 8),
    }
    : new TrainerOptions
    {
        BatchSize = batch, Epochs = epochs, Seed = seed, IntraOpThreads = threads, BatchNorm = BatchNormMode.Frozen,
        Optimizer = new OptimizerOptions { Kind = OptimizerKind.AdamW, WeightDecay = 0.05f },
        Schedule = new LearningRateSchedule { BaseRate = float.Parse(Arg("--lr", "0.002"), ci), Kind = ScheduleKind.Cosine, WarmupSteps = warmup >= 0 ? warmup : Math.Min(500, steps / 10) },
        Loss = new LossOptions { LabelSmoothing = 0.05f },
        Augmentation = augmentation,
        ProgressInterval = 100,
        EvaluationInterval = Math.Max(1, steps / 8),
    };

Console.WriteLine($"{kind}: {model.Graph.Constants.Where(c => c.ElementType == OnnxPrune.Tensors.ElementType.Float).Sum(c => c.ElementCount):N0} parameters, {steps} steps of {batch} ({epochs} epochs), seed {seed}");
var clock = Stopwatch.StartNew();
using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; cts.Cancel(); });
using var trainer = new Trainer(model, options);
// Every evaluation also saves a checkpoint, so a run stopped early still leaves its latest measured model behind.
void Save(EvaluationResult evaluation, int step)
{
    var trained = trainer.ExportModel();
    trained.SetMetadata("onnxprune.training", $"TrainEmbeddedModels {string.Join(' ', args)} (step {step}/{steps})");
    trained.SetMetadata("onnxprune.test_accuracy", evaluation.Accuracy.ToString("F4", ci));
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
    trained.Save(output);
}
TrainingResult result;
try
{
result = await trainer.TrainAsync(train, test, new SynchronousProgress<TrainingProgress>(p =>
{
    Console.WriteLine($"[{clock.Elapsed:hh\\:mm\\:ss}] {p}");
    if (p.Evaluation is { } e) Save(e, p.Step);
}), cts.Token);
}
catch (OperationCanceledException)
{
    Console.WriteLine($"stopped after {trainer.StepsDone} steps; {output} holds the last checkpoint (see its onnxprune.* metadata)");
    return 1;
}
// Re-load the saved file and evaluate it independently of the trainer.
var reloaded = Evaluator.Evaluate(OnnxModel.Load(output), test);
Console.WriteLine($"saved {output} ({new FileInfo(output).Length:N0} bytes); test accuracy {reloaded.Accuracy:P2} (trainer: {result.Evaluation!.Accuracy:P2}), loss {reloaded.Loss:F4}; wall time {clock.Elapsed:hh\\:mm\\:ss}");
return 0;

