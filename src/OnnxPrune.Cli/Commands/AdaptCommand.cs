using System.CommandLine;
using System.Text.Json;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Tasks;

namespace OnnxPrune.Cli.Commands;

/// <summary>
/// <c>onnxprune adapt BASE OUT --library LIB --classes 0,3,7 [--data D] [--neighbors K] [--embedding E] [--ratio R | --target-…]
/// [--steps N] [--task-head] [--seed S] [--json]</c>: one-shot pruning of a base model for a new task from the masks of
/// the most similar library tasks, then a short fine-tune.
/// </summary>
internal static class AdaptCommand
{
    public static Command Create()
    {
        var input = new Argument<FileInfo>("base") { Description = "The pre-trained base model the library was filled from." };
        var output = new Argument<FileInfo>("out") { Description = "Where to write the adapted model." };
        var lib = new Option<DirectoryInfo>("--library") { Description = "The task library.", Required = true };
        var data = new Option<string>("--data") { Description = "Data set.", DefaultValueFactory = _ => "fashion-mnist" };
        var classes = new Option<string>("--classes") { Description = "The new task's classes, e.g. 0,3,7.", Required = true };
        var k = new Option<int>("--neighbors") { Description = "Nearest tasks that vote.", DefaultValueFactory = _ => 3 };
        var embedding = LibraryCommand.EmbeddingOption();
        var budget = new LibraryCommand.BudgetOptions();
        var steps = new Option<int>("--steps") { Description = "Fine-tuning steps after the prune.", DefaultValueFactory = _ => 100 };
        var taskHead = new Option<bool>("--task-head") { Description = "Cut the classifier to the task's classes (in the order given)." };
        var seed = new Option<int>("--seed") { Description = "Seed.", DefaultValueFactory = _ => 1 };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var recalibrate = new Option<int>("--recalibrate-bn") { Description = "Re-estimate BatchNormalization statistics from this many batches after the prune." };
        var randomNeighbors = new Option<bool>("--random-neighbors") { Description = "Ablation: K library tasks drawn at random (by --seed, uniform votes) instead of the nearest." };
        var command = new Command("adapt", "Prune a pre-trained model once for a new task from the masks of similar tasks in a library, then fine-tune briefly.")
        {
            input, output, lib, data, classes, k, embedding, steps, taskHead, seed, json, randomNeighbors, recalibrate,
        };
        budget.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var model = OnnxModel.Load(parse.GetValue(input)!.FullName);
            var library = TaskLibrary.Open(parse.GetValue(lib)!.FullName);
            var options = new AdaptOptions
            {
                Data = parse.GetValue(data)!, Classes = TaskData.ParseClasses(parse.GetValue(classes)), Neighbors = parse.GetValue(k),
                Embedding = LibraryCommand.ParseEmbedding(parse.GetValue(embedding)!), Budget = budget.Get(parse), Steps = parse.GetValue(steps),
                TaskHead = parse.GetValue(taskHead), Seed = parse.GetValue(seed), RandomNeighbors = parse.GetValue(randomNeighbors), RecalibrationBatches = parse.GetValue(recalibrate),
            };
            var (adapted, report) = await TaskAdapter.AdaptAsync(model, library, options, new LibraryCommand.StderrProgress(), ct);
            var outPath = parse.GetValue(output)!.FullName;
            adapted.Save(outPath);
            if (parse.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(report, Json.Options));
            else
            {
                Console.WriteLine($"Adapted → {outPath} for {report.Task}, {report.Budget}");
                foreach (var n in report.Neighbors)
                    Console.WriteLine(FormattableString.Invariant($"  neighbour {n.Id[..12]} {n.Task,-26} similarity {n.Similarity:F4} weight {n.Weight:F3} agreement {n.Agreement:F3}"));
                Console.WriteLine(FormattableString.Invariant($"  accuracy   {report.AccuracyBefore:P2} after the prune → {report.AccuracyAfter:P2} after {report.Steps} steps"));
                Console.WriteLine(FormattableString.Invariant($"  parameters {report.Before.Parameters:N0} → {report.After.Parameters:N0}; MACs {report.Before.Macs:N0} → {report.After.Macs:N0}; bytes {report.Before.WeightBytes:N0} → {report.After.WeightBytes:N0}"));
                Console.WriteLine(FormattableString.Invariant($"  time       {report.TimingsMs["total"] / 1000:F1} s wall ({string.Join(", ", report.TimingsMs.Where(t => t.Key != "total").Select(t => $"{t.Key} {t.Value / 1000:F1}"))}), {report.CpuSeconds:F1} CPU s"));
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
