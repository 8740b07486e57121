using System.CommandLine;
using System.Text.Json;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.MultiTask;
using OnnxPrune.Training;

namespace OnnxPrune.Cli.Commands;

/// <summary>
/// <c>onnxprune prune-multitask MODEL OUT --data fashion-mnist --tasks TASKS.yaml --criterion taylor|cosine --ratio R | --target-params N
/// [--prune-every S] [--prune-units P] [--steps N] [--optimizer sgd|adamw] [--seed S] [--reinit] [--json]</c>: binds the options of
/// <see cref="MultiTaskPruner"/> and writes its model.
/// </summary>
internal static class PruneMultitaskCommand
{
    public static Command Create()
    {
        // Unset options take the library's defaults (MultiTaskPruneOptions.For): the verb only binds.
        var input = new Argument<FileInfo>("model") { Description = "The multi-task model." };
        var output = new Argument<FileInfo>("out") { Description = "Where to write the pruned model." };
        var data = new Option<string>("--data") { Description = "Data set: fashion-mnist, fashion-mnist:FOLDER, or npy:FOLDER.", DefaultValueFactory = _ => "fashion-mnist" };
        var tasks = new Option<FileInfo>("--tasks") { Description = "The tasks file (YAML: each task's output, target, loss, weight, metric).", Required = true };
        var criterion = new Option<string>("--criterion") { Description = "taylor (gate-Taylor on the summed loss) or cosine (gradient cosine between tasks).", DefaultValueFactory = _ => "taylor" };
        criterion.AcceptOnlyFromAmong("taylor", "cosine");
        var ratio = new Option<double?>("--ratio") { Description = "Fraction of units to remove from the shared backbone and from each task's head, in (0, 1)." };
        var target = new Option<long?>("--target-params") { Description = "Prune until the model has at most this many parameters." };
        var every = new Option<int?>("--prune-every") { Description = "Training steps between pruning rounds (default 50)." };
        var units = new Option<int?>("--prune-units") { Description = "Shared units removed per round (default 0: enough for 8 rounds)." };
        var steps = new Option<int?>("--steps") { Description = "Fine-tuning steps after the last round (default 200; with --reinit: added to the rounds' steps, trained from scratch)." };
        var optimizer = new Option<string>("--optimizer") { Description = "sgd (momentum 0.9) or adamw.", DefaultValueFactory = _ => "sgd" };
        optimizer.AcceptOnlyFromAmong("sgd", "adamw");
        var lr = new Option<float?>("--lr") { Description = "Learning rate of the rounds and fine-tuning (default 0.01 for sgd, 0.0005 for adamw)." };
        var batch = new Option<int?>("--batch") { Description = "Samples per training step (default 64)." };
        var scoreBatches = new Option<int?>("--score-batches") { Description = "Batches the criterion accumulates over per round (default 8)." };
        var minKeep = new Option<double?>("--min-keep") { Description = "Each group keeps at least this fraction of its original units (default 0.1)." };
        var reinit = new Option<bool>("--reinit") { Description = "Re-initialise the pruned architecture (seeded) and train it from scratch with the same step budget." };
        var seed = new Option<int?>("--seed") { Description = "Seed of training, scoring and re-initialisation (default 1)." };
        var threads = new Option<int>("--threads") { Description = "Intra-op threads (0: ONNX Runtime's default)." };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var command = new Command("prune-multitask", "Iteratively prune a multi-task model (train, score with a multi-task criterion, remove the lowest units; heads with their task), then fine-tune or retrain from scratch.")
        {
            input, output, data, tasks, criterion, ratio, target, every, units, steps, optimizer, lr, batch, scoreBatches, minKeep, reinit, seed, threads, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if ((parse.GetValue(ratio) is null) == (parse.GetValue(target) is null)) throw new ArgumentException("Give exactly one of --ratio and --target-params.");
            var model = OnnxModel.Load(parse.GetValue(input)!.FullName);
            var spec = TaskFile.Load(parse.GetValue(tasks)!.FullName);
            spec.EnsureFits(model);
            var train = MultiTaskData.Build(TaskData.Load(parse.GetValue(data)!, train: true), spec);
            var test = MultiTaskData.Build(TaskData.Load(parse.GetValue(data)!, train: false), spec);
            var defaults = MultiTaskPruneOptions.For(spec, train);
            var options = defaults with
            {
                Test = test,
                Criterion = parse.GetValue(criterion) == "cosine" ? MultiTaskCriterion.Cosine : MultiTaskCriterion.Taylor,
                Ratio = parse.GetValue(ratio), TargetParameters = parse.GetValue(target),
                PruneEvery = parse.GetValue(every) ?? defaults.PruneEvery, PruneUnits = parse.GetValue(units) ?? defaults.PruneUnits,
                Steps = parse.GetValue(steps) ?? defaults.Steps,
                Optimizer = parse.GetValue(optimizer) == "adamw" ? OptimizerKind.AdamW : OptimizerKind.Sgd, LearningRate = parse.GetValue(lr),
                BatchSize = parse.GetValue(batch) ?? defaults.BatchSize,
                Scoring = defaults.Scoring with { Batches = parse.GetValue(scoreBatches) ?? defaults.Scoring.Batches },
                MinKeepFraction = parse.GetValue(minKeep) ?? defaults.MinKeepFraction, Reinitialize = parse.GetValue(reinit),
                Seed = parse.GetValue(seed) ?? defaults.Seed, IntraOpThreads = parse.GetValue(threads),
            };
            var progress = new SynchronousProgress<MultiTaskPruneProgress>(p =>
            {
                if (p.Stage is MultiTaskStage.Train or MultiTaskStage.Finetune or MultiTaskStage.Reinitialize && p.Scores is null && !p.Message.StartsWith("re-init", StringComparison.Ordinal))
                    Console.Error.WriteLine($"  [{p.Stage.ToString().ToLowerInvariant()} {p.Round}] {p.Message}");
                else Console.Error.WriteLine(p.Message);
            });
            var (pruned, report) = await MultiTaskPruner.Default.PruneAsync(model, options, progress, cancellationToken);
            var outPath = parse.GetValue(output)!.FullName;
            pruned.Save(outPath);
            if (parse.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    model = parse.GetValue(input)!.FullName, output = outPath, report.Criterion, report.ParametersBefore, report.ParametersAfter, report.TrainingSteps, report.Reinitialized,
                    before = report.Before is null ? null : MultiTaskEvaluator.ToJsonShape(report.Before),
                    after = report.After is null ? null : MultiTaskEvaluator.ToJsonShape(report.After),
                    rounds = report.Rounds.Select(r => new { r.Round, r.UnitsRemoved, r.Parameters, tasks = r.Scores is null ? null : MultiTaskEvaluator.ToJsonShape(r.Scores) }),
                    widths = report.Widths, timingsMs = report.TimingsMs, collapsedTasks = report.CollapsedTasks,
                }, Json.Options));
            else
                Console.WriteLine($"{outPath}: {report.Criterion}, {report.ParametersBefore:N0} → {report.ParametersAfter:N0} parameters in {report.Rounds.Count} rounds, {report.TrainingSteps} training steps" +
                    (report.After is null ? "" : $"; {string.Join(", ", report.After)}"));
            return ExitCodes.Ok;
        });
        return command;
    }
}
