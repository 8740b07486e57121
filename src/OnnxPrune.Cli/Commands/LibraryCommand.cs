using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using OnnxPrune.Analysis;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Tasks;

namespace OnnxPrune.Cli.Commands;

/// <summary>
/// <c>onnxprune library add|fill|list|merge|similar</c>: fill and inspect a task library (<c>src/OnnxPrune/Tasks/TASKS.md</c>).
/// </summary>
internal static class LibraryCommand
{
    public static Command Create()
    {
        var command = new Command("library", "Task library: pruned masks of past tasks for one-shot pruning of new ones (see adapt).");
        command.Subcommands.Add(Add());
        command.Subcommands.Add(Fill());
        command.Subcommands.Add(List());
        command.Subcommands.Add(Merge());
        command.Subcommands.Add(Similar());
        return command;
    }

    /// <summary>The budget options shared by library add/fill and adapt.</summary>
    internal sealed class BudgetOptions
    {
        public Option<double?> Ratio { get; } = new("--ratio") { Description = "Fraction of units to remove in every group." };
        public Option<long?> Params { get; } = new("--target-params") { Description = "At most N parameters." };
        public Option<long?> Macs { get; } = new("--target-macs") { Description = "At most N MACs per inference." };
        public Option<long?> Bytes { get; } = new("--target-bytes") { Description = "At most N weight bytes." };

        public void AddTo(Command c) { c.Options.Add(Ratio); c.Options.Add(Params); c.Options.Add(Macs); c.Options.Add(Bytes); }

        public PruningBudget Get(ParseResult p) => PruningBudget.Select(p.GetValue(Ratio), false, p.GetValue(Params), p.GetValue(Macs), p.GetValue(Bytes));
    }

    private sealed class AddOptions
    {
        public Argument<DirectoryInfo> Library { get; } = new("library") { Description = "The library folder (created if missing)." };
        public Option<FileInfo> Model { get; } = new("--model") { Description = "The base model.", Required = true };
        public Option<string> Data { get; } = new("--data") { Description = "Data set: fashion-mnist, fashion-mnist:FOLDER, npy:FOLDER.", DefaultValueFactory = _ => "fashion-mnist" };
        public BudgetOptions Budget { get; } = new();
        public Option<int> Rounds { get; } = new("--rounds") { Description = "Prune–fine-tune rounds (each prunes an equal share of the budget).", DefaultValueFactory = _ => 3 };
        public Option<int> Steps { get; } = new("--steps-per-round") { Description = "Fine-tuning steps after each round.", DefaultValueFactory = _ => 200 };
        public Option<string> Criterion { get; } = new("--criterion") { Description = "Criterion of each round: l2, l1, fpgm, bn, random, taylor, activation.", DefaultValueFactory = _ => "l2" };
        public Option<int> Seed { get; } = new("--seed") { Description = "Seed.", DefaultValueFactory = _ => 1 };

        public AddOptions() => Criterion.AcceptOnlyFromAmong([.. TaskDataSets.CriterionNames]);

        public void AddTo(Command c)
        {
            c.Arguments.Add(Library);
            c.Options.Add(Model); c.Options.Add(Data); Budget.AddTo(c); c.Options.Add(Rounds); c.Options.Add(Steps); c.Options.Add(Criterion); c.Options.Add(Seed);
        }

        public LibraryAddOptions Bind(ParseResult p, IReadOnlyList<int> classes) => new()
        {
            Data = p.GetValue(Data)!, Classes = classes, Budget = Budget.Get(p), Rounds = p.GetValue(Rounds), StepsPerRound = p.GetValue(Steps),
            Criterion = p.GetValue(Criterion)!, Seed = p.GetValue(Seed),
        };
    }

    private static Command Add()
    {
        var o = new AddOptions();
        var classes = new Option<string>("--classes") { Description = "The task's classes, e.g. 0,3,7.", Required = true };
        var command = new Command("add", "Prune one task the expensive way (iterative prune + fine-tune) and record its masks in the library.");
        o.AddTo(command);
        command.Options.Add(classes);
        command.SetAction(async (parse, ct) =>
        {
            var library = TaskLibrary.OpenOrCreate(parse.GetValue(o.Library)!.FullName);
            var model = OnnxModel.Load(parse.GetValue(o.Model)!.FullName);
            var entry = await TaskPruner.AddAsync(library, model, o.Bind(parse, TaskData.ParseClasses(parse.GetValue(classes))), new StderrProgress(), ct);
            Console.WriteLine(Describe(entry));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Fill()
    {
        var o = new AddOptions();
        var tasks = new Option<FileInfo>("--tasks") { Description = "TASKS.txt: one task per line (class ids, optional label).", Required = true };
        var shard = new Option<string>("--shard") { Description = "This process's shard I/N of the task list.", DefaultValueFactory = _ => "0/1" };
        var command = new Command("fill", "Run library add for every task of a task list (one shard of it), skipping tasks the library has.");
        o.AddTo(command);
        command.Options.Add(tasks);
        command.Options.Add(shard);
        command.SetAction(async (parse, ct) =>
        {
            var library = TaskLibrary.OpenOrCreate(parse.GetValue(o.Library)!.FullName);
            var model = OnnxModel.Load(parse.GetValue(o.Model)!.FullName);
            var options = new LibraryFillOptions
            {
                Tasks = TaskList.Load(parse.GetValue(tasks)!.FullName), Shard = ShardSpec.Parse(parse.GetValue(shard)!), Template = o.Bind(parse, [0]),
            };
            var items = await TaskPruner.FillAsync(library, model, options, new StderrProgress(), ct);
            foreach (var item in items) Console.WriteLine((item.Skipped ? "had   " : "added ") + Describe(item.Entry));
            Console.WriteLine($"{items.Count(i => !i.Skipped)} added, {items.Count(i => i.Skipped)} already present (shard {options.Shard}).");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command List()
    {
        var lib = new Argument<DirectoryInfo>("library") { Description = "The library folder." };
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var command = new Command("list", "List a library's entries (corrupt files are skipped and named on stderr).") { lib, json };
        command.SetAction(parse =>
        {
            var listing = TaskLibrary.Open(parse.GetValue(lib)!.FullName).List();
            foreach (var s in listing.Skipped) Console.Error.WriteLine($"skipped {s.File}: {s.Reason}");
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(listing.Entries.Select(e => new
                {
                    id = e.Id, task = e.Task, baseFingerprint = e.BaseFingerprint, budget = e.Budget.Describe(), accuracy = e.Accuracy, steps = e.Steps,
                    cpuSeconds = e.CpuSeconds, keptFraction = KeptFraction(e), embeddings = e.Embeddings.ToDictionary(kv => kv.Key, kv => kv.Value.Length), properties = e.Properties,
                }), Json.Options));
            }
            else
            {
                foreach (var e in listing.Entries) Console.WriteLine(Describe(e));
                Console.WriteLine($"{listing.Entries.Count} entries, {listing.Skipped.Count} skipped, {listing.PendingTemporaries} pending.");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Merge()
    {
        var lib = new Argument<DirectoryInfo>("library") { Description = "The library to merge into (created if missing)." };
        var others = new Argument<DirectoryInfo[]>("others") { Description = "Libraries to copy entries from.", Arity = ArgumentArity.OneOrMore };
        var command = new Command("merge", "Copy the entries of other libraries into one (content-addressed: merging twice adds nothing).") { lib, others };
        command.SetAction(parse =>
        {
            var report = TaskLibrary.Merge(parse.GetValue(lib)!.FullName, parse.GetValue(others)!.Select(d => d.FullName));
            foreach (var s in report.Skipped) Console.Error.WriteLine($"skipped {s.File}: {s.Reason}");
            Console.WriteLine($"{report.Added} added, {report.AlreadyPresent} already present, {report.Skipped.Count} skipped.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Similar()
    {
        var lib = new Argument<DirectoryInfo>("library") { Description = "The library folder." };
        var model = new Option<FileInfo>("--model") { Description = "The base model.", Required = true };
        var data = new Option<string>("--data") { Description = "Data set.", DefaultValueFactory = _ => "fashion-mnist" };
        var classes = new Option<string>("--classes") { Description = "The new task's classes.", Required = true };
        var k = new Option<int>("--neighbors") { Description = "How many nearest tasks.", DefaultValueFactory = _ => 5 };
        var embedding = EmbeddingOption();
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var command = new Command("similar", "List the library's tasks most similar to a new task.") { lib, model, data, classes, k, embedding, json };
        command.SetAction(async (parse, ct) =>
        {
            var library = TaskLibrary.Open(parse.GetValue(lib)!.FullName);
            var baseModel = OnnxModel.Load(parse.GetValue(model)!.FullName);
            var kind = ParseEmbedding(parse.GetValue(embedding)!);
            var neighbors = await TaskSearch.SimilarAsync(library, baseModel, parse.GetValue(data)!, TaskData.ParseClasses(parse.GetValue(classes)), parse.GetValue(k), kind, ct);
            if (parse.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(neighbors.Select(n => new { id = n.Entry.Id, task = n.Entry.Task, similarity = n.Similarity, accuracy = n.Entry.Accuracy }), Json.Options));
            else
                foreach (var n in neighbors) Console.WriteLine(FormattableString.Invariant($"{n.Similarity,8:F4}  {Describe(n.Entry)}"));
            return ExitCodes.Ok;
        });
        return command;
    }

    internal static Option<string> EmbeddingOption()
    {
        var o = new Option<string>("--embedding") { Description = "How tasks are compared: features (penultimate-feature class means), fisher (Task2Vec-style), classes (class overlap).", DefaultValueFactory = _ => "features" };
        o.AcceptOnlyFromAmong("features", "fisher", "classes");
        return o;
    }

    internal static SimilarityKind ParseEmbedding(string text) => text switch
    {
        "fisher" => SimilarityKind.Fisher,
        "classes" => SimilarityKind.Classes,
        _ => SimilarityKind.Features,
    };

    private static double KeptFraction(TaskEntry e)
    {
        long size = e.Masks.Values.Sum(m => m.Size), kept = e.Masks.Values.Sum(m => (long)m.Kept.Count);
        return size == 0 ? 1 : (double)kept / size;
    }

    internal static string Describe(TaskEntry e) => string.Create(CultureInfo.InvariantCulture,
        $"{e.ShortId}  {e.Task.Describe(),-28} {e.Budget.Describe(),-12} kept {KeptFraction(e):P0}  acc {e.Accuracy:P2}  {e.Steps} steps  {e.CpuSeconds:F0} CPU s  {e.Properties.GetValueOrDefault("criterion", "?")}");

    internal sealed class StderrProgress : IProgress<TaskProgress>
    {
        public void Report(TaskProgress value) => Console.Error.WriteLine($"[{value.Stage}] {value.Message}");
    }
}
