using System.CommandLine;
using System.Text.Json;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.MultiTask;
using OnnxPrune.Runtime;
using OnnxPrune.Training;

namespace OnnxPrune.Cli.Commands;

/// <summary>
/// <c>onnxprune eval MODEL --data fashion-mnist [--classes 0,3,7] [--tasks TASKS.yaml] [--json]</c>: accuracy and loss on the
/// test split, or each task's metric of a multi-task model.
/// </summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var model = new Argument<FileInfo>("model") { Description = "The ONNX classifier (first input images [N,1,28,28] in [0,1], first output logits)." };
        var data = new Option<string>("--data") { Description = "Data set: fashion-mnist, fashion-mnist:FOLDER, or npy:FOLDER (train_images.npy, train_labels.npy, test_images.npy, test_labels.npy).", DefaultValueFactory = _ => "fashion-mnist" };
        var classes = new Option<string?>("--classes") { Description = "Evaluate on these classes only, e.g. 0,3,7." };
        var batch = new Option<int>("--batch") { Description = "Images per inference batch.", DefaultValueFactory = _ => 256 };
        var threads = new Option<int>("--threads") { Description = "Intra-op threads (0: ONNX Runtime's default)." };
        var tasks = new Option<FileInfo?>("--tasks") { Description = "A multi-task model's tasks file (YAML: each task's output, target, loss, weight, metric); reports each task's metric." };
        var json = new Option<bool>("--json") { Description = "Print JSON (keys: model, data, classes, images, accuracy, loss; with --tasks: model, data, images, tasks: {NAME: {accuracy|mse: …}})." };
        var provider = RunCommand.ProviderOption();
        var command = new Command("eval", "Evaluate a classifier's top-1 accuracy and cross-entropy on a data set's test split, or each task of a multi-task model.") { model, data, classes, batch, threads, tasks, json, provider };
        command.SetAction(parse =>
        {
            var path = parse.GetValue(model)!.FullName;
            var onnx = OnnxModel.Load(path);
            if (parse.GetValue(tasks) is { } tasksFile)
            {
                if (parse.GetValue(classes) is not null) throw new ArgumentException("--classes and --tasks cannot be combined (the tasks file defines the targets).");
                var spec = TaskFile.Load(tasksFile.FullName);
                var taskData = MultiTaskData.Build(TaskData.Load(parse.GetValue(data)!, train: false), spec);
                var scores = MultiTaskEvaluator.Evaluate(onnx, spec, taskData, parse.GetValue(batch), new SessionSettings { IntraOpThreads = parse.GetValue(threads), Provider = RunCommand.ParseProvider(parse.GetValue(provider)) });
                if (parse.GetValue(json))
                    Console.WriteLine(JsonSerializer.Serialize(new { model = path, data = taskData.Name, images = taskData.Count, tasks = MultiTaskEvaluator.ToJsonShape(scores) }, Json.Options));
                else
                    Console.WriteLine($"{path}: {taskData.Name} ({taskData.Count} images): {string.Join(", ", scores)}");
                return ExitCodes.Ok;
            }
            var taskClasses = TaskData.ParseClasses(parse.GetValue(classes));
            var test = TaskData.ForTask(TaskData.Load(parse.GetValue(data)!, train: false), taskClasses, TaskData.OutputClasses(onnx));
            var result = Evaluator.Evaluate(onnx, test, parse.GetValue(batch), new SessionSettings { IntraOpThreads = parse.GetValue(threads), Provider = RunCommand.ParseProvider(parse.GetValue(provider)) });
            if (parse.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new { model = path, data = test.Name, classes = taskClasses, images = result.Count, accuracy = result.Accuracy, loss = result.Loss }, Json.Options));
            else
                Console.WriteLine(FormattableString.Invariant($"{path}: {test.Name}: accuracy {result.Accuracy:P2} ({result.Count} images), loss {result.Loss:F4}"));
            return ExitCodes.Ok;
        });
        return command;
    }
}
