using System.Diagnostics;
using System.Globalization;
using OnnxPrune.Analysis;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Pruning.Importance;
using OnnxPrune.Tensors;
using OnnxPrune.Training;

namespace OnnxPrune.Tasks;

/// <summary>Progress of a task pipeline (<see cref="TaskPruner"/>, <see cref="TaskAdapter"/>): a line of text.</summary>
/// <param name="Stage">Short stage name (e.g. <c>round 2/3</c>, <c>embed</c>, <c>finetune</c>).</param>
/// <param name="Message">What is happening.</param>
public readonly record struct TaskProgress(string Stage, string Message);

/// <summary>What <see cref="TaskPruner.AddAsync"/> does: prune one task the expensive way and record it.</summary>
public sealed record LibraryAddOptions
{
    /// <summary>The data set (<see cref="TaskData.Load"/>), e.g. <c>fashion-mnist</c>.</summary>
    public string Data { get; init; } = "fashion-mnist";

    /// <summary>The task's classes.</summary>
    public required IReadOnlyList<int> Classes { get; init; }

    /// <summary>Optional label recorded with the task.</summary>
    public string? Label { get; init; }

    /// <summary>The final budget (reached in <see cref="Rounds"/> equal shares).</summary>
    public required PruningBudget Budget { get; init; }

    /// <summary>Prune–fine-tune rounds (≥ 1).</summary>
    public int Rounds { get; init; } = 3;

    /// <summary>Fine-tuning steps after each round.</summary>
    public int StepsPerRound { get; init; } = 200;

    /// <summary>Criterion name: <c>l2</c>, <c>l1</c>, <c>fpgm</c>, <c>bn</c>, <c>random</c> (data-free) or <c>taylor</c>, <c>activation</c>.</summary>
    public string Criterion { get; init; } = "l2";

    /// <summary>Seed (training, tie-breaks, sampling).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Batch size of fine-tuning.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Embeddings to record (<see cref="TaskEmbeddingKinds"/>).</summary>
    public IReadOnlyList<string> Embeddings { get; init; } = [TaskEmbeddingKinds.Features, TaskEmbeddingKinds.Fisher];

    /// <summary>Embedding sampling.</summary>
    public EmbeddingOptions Embedding { get; init; } = new();

    /// <summary>Skip the task when the library already has it for this base model and budget (returns the existing entry).</summary>
    public bool SkipExisting { get; init; } = true;
}

/// <summary>What <see cref="TaskPruner.FillAsync"/> does: <see cref="LibraryAddOptions"/> for every task of one shard.</summary>
public sealed record LibraryFillOptions
{
    /// <summary>The tasks (from <see cref="TaskList"/>).</summary>
    public required IReadOnlyList<TaskSpec> Tasks { get; init; }

    /// <summary>This process's shard.</summary>
    public ShardSpec Shard { get; init; } = ShardSpec.All;

    /// <summary>Everything else, per task (its <see cref="LibraryAddOptions.Classes"/> and label are replaced).</summary>
    public required LibraryAddOptions Template { get; init; }
}

/// <summary>The result of <see cref="TaskPruner.PruneIterativelyAsync"/>.</summary>
/// <param name="Model">The pruned, fine-tuned model.</param>
/// <param name="Masks">Kept base-model units per base group key (groups whose key changed under pruning are left out).</param>
/// <param name="Accuracy">Test accuracy of <paramref name="Model"/>.</param>
/// <param name="Steps">Training steps spent.</param>
/// <param name="UnmappedGroups">Groups left out of <paramref name="Masks"/>.</param>
public sealed record IterativePruneResult(OnnxModel Model, IReadOnlyDictionary<string, GroupMask> Masks, EvaluationResult Accuracy, long Steps, int UnmappedGroups);

/// <summary>One task of a fill: its entry and whether it was already there.</summary>
public sealed record LibraryFillItem(TaskSpec Task, TaskEntry Entry, bool Skipped);

/// <summary>Data-set helpers shared by the task pipelines.</summary>
public static class TaskDataSets
{
    /// <summary>Criteria by name for the task pipelines and the CLI: the data-free ones, plus <c>taylor</c> and <c>activation</c>.</summary>
    public static IReadOnlyList<string> CriterionNames { get; } = [.. Criteria.Names, "taylor", "activation"];

    /// <summary>Creates a criterion; <c>taylor</c> and <c>activation</c> need data (<see cref="CriterionNeedsData"/>).</summary>
    public static IImportanceCriterion CreateCriterion(string name, long seed = 0) => name.ToLowerInvariant() switch
    {
        "taylor" => new TaylorCriterion(),
        "activation" => new ActivationCriterion(),
        _ => Criteria.Create(name, seed),
    };

    /// <summary>True for the data-driven criteria.</summary>
    public static bool CriterionNeedsData(string name) => name.ToLowerInvariant() is "taylor" or "activation";

    /// <summary>A few shuffled training batches of a task for a data-driven criterion (labels fit <paramref name="model"/>'s head).</summary>
    public static IDataProvider CriterionData(OnnxModel model, string data, IReadOnlyList<int>? classes, int seed, int batchSize = 32, int batches = 4)
    {
        var train = TaskData.ForTask(TaskData.Load(data, train: true), classes, TaskData.OutputClasses(model));
        return DataProviders.FromDataset(train, batchSize, batches, seed);
    }
}

/// <summary>
/// Fills a <see cref="TaskLibrary"/>: prunes a task the expensive way (iterative: each round prunes an equal share of the
/// budget, then fine-tunes) and records its keep-masks against the BASE model's groups. Surgery renumbers units, so each
/// round's kept indices are mapped back through the previous rounds' to base-model unit indices (groups are matched by
/// their stable key; a group whose key changes under pruning, e.g. a Split region, abstains from the entry).
/// The base model is never modified.
/// </summary>
public static class TaskPruner
{
    /// <summary>Prunes the task, fine-tunes, embeds it and adds the entry (or returns the existing one, see
    /// <see cref="LibraryAddOptions.SkipExisting"/>).</summary>
    public static async Task<TaskEntry> AddAsync(TaskLibrary library, OnnxModel baseModel, LibraryAddOptions options, IProgress<TaskProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(library);
        ArgumentNullException.ThrowIfNull(baseModel);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Rounds, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(options.StepsPerRound);
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var fingerprint = ModelFingerprint.Of(baseModel, cancellationToken).Hex;
        var task = new TaskDescriptor { DataSet = options.Data, Classes = options.Classes.ToArray(), Label = options.Label };
        var budget = TaskBudget.From(options.Budget);
        if (options.SkipExisting && library.Find(task, fingerprint, budget, cancellationToken) is { Count: > 0 } existing)
        {
            progress?.Report(new TaskProgress("skip", $"{task.Describe()} is already in the library ({existing[0].ShortId})"));
            return existing[0];
        }

        var fullTrain = TaskData.Load(options.Data, train: true);
        var pruned = await PruneIterativelyAsync(baseModel, options, progress, cancellationToken).ConfigureAwait(false);
        var (masks, last, steps, unmappedCount) = (pruned.Masks, pruned.Accuracy, pruned.Steps, pruned.UnmappedGroups);
        progress?.Report(new TaskProgress("embed", $"embedding {task.Describe()} ({string.Join(", ", options.Embeddings)})"));
        var embeddings = await TaskEmbedder.EmbedAsync(baseModel, fullTrain, options.Classes, options.Embeddings, options.Embedding, cancellationToken).ConfigureAwait(false);
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
        var entry = new TaskEntry
        {
            Task = task, BaseFingerprint = fingerprint, Embeddings = embeddings, Masks = masks, Budget = budget,
            Accuracy = Math.Clamp(last.Accuracy, 0, 1), Steps = steps, CpuSeconds = cpu,
            Properties = new Dictionary<string, string>
            {
                ["criterion"] = options.Criterion.ToLowerInvariant(),
                ["rounds"] = options.Rounds.ToString(CultureInfo.InvariantCulture),
                ["stepsPerRound"] = options.StepsPerRound.ToString(CultureInfo.InvariantCulture),
                ["seed"] = options.Seed.ToString(CultureInfo.InvariantCulture),
                ["unmappedGroups"] = unmappedCount.ToString(CultureInfo.InvariantCulture),
            },
        };
        var added = library.Add(entry, cancellationToken);
        progress?.Report(new TaskProgress("done", FormattableString.Invariant($"{task.Describe()}: accuracy {last.Accuracy:P2}, entry {added.ShortId}")));
        return added;
    }

    /// <summary>The expensive way without recording: <see cref="LibraryAddOptions.Rounds"/> rounds of prune (an equal share of
    /// the budget) + fine-tune on the task's training split, then the test accuracy; masks mapped back to the base model's
    /// units and keyed by the base model's group keys.</summary>
    public static async Task<IterativePruneResult> PruneIterativelyAsync(OnnxModel baseModel, LibraryAddOptions options, IProgress<TaskProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(baseModel);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Rounds, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(options.StepsPerRound);
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        var fullTrain = TaskData.Load(options.Data, train: true);
        var fullTest = TaskData.Load(options.Data, train: false);
        long outputs = TaskData.OutputClasses(baseModel);
        var train = TaskData.ForTask(fullTrain, options.Classes, outputs);
        var test = TaskData.ForTask(fullTest, options.Classes, outputs);

        var baseGroups = DependencyAnalyzer.Analyze(baseModel, cancellationToken).Groups.Where(g => !g.IsBlocked).ToArray();
        var map = baseGroups.ToDictionary(g => g.Key, g => Enumerable.Range(0, checked((int)g.Size)).Select(i => (long)i).ToArray(), StringComparer.Ordinal);
        var baseCost = CostModel.Of(baseModel, cancellationToken: cancellationToken).Total;
        var work = OnnxModel.FromBytes(baseModel.ToBytes(), baseModel.SourcePath ?? "model");
        var criterion = TaskDataSets.CreateCriterion(options.Criterion, options.Seed);
        var unmapped = new HashSet<string>(StringComparer.Ordinal);
        EvaluationResult? last = null;
        long steps = 0;
        for (int r = 1; r <= options.Rounds; r++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var roundBudget = RoundBudget(options.Budget, baseCost, r, options.Rounds);
            progress?.Report(new TaskProgress($"round {r}/{options.Rounds}", $"pruning to {roundBudget.Describe()} with {criterion.Name}"));
            var analysis = DependencyAnalyzer.Analyze(work, cancellationToken);
            var groups = analysis.Groups;
            IDataProvider? data = TaskDataSets.CriterionNeedsData(options.Criterion) ? DataProviders.FromDataset(train, 32, 4, options.Seed + r) : null;
            var scores = await criterion.ScoreAsync(new ImportanceContext { Model = work, Groups = groups, Data = data }, cancellationToken).ConfigureAwait(false);
            var plan = BudgetPlanner.Plan(groups, scores, roundBudget, new PlannerOptions { Seed = options.Seed }, CostModel.Of(work, analysis, cancellationToken: cancellationToken));
            foreach (var g in groups.Where(g => !g.IsBlocked && map.TryGetValue(g.Key, out var m) && m.Length != g.Size)) unmapped.Add(g.Key);
            foreach (var key in map.Keys.Where(k => !groups.Any(g => g.Key == k))) unmapped.Add(key);
            foreach (var mask in plan.Masks)
            {
                if (!map.TryGetValue(mask.Group.Key, out var current)) continue;
                if (current.Length != mask.Group.Size) { unmapped.Add(mask.Group.Key); continue; }
                map[mask.Group.Key] = mask.Kept.Select(i => current[i]).ToArray();
            }
            PruningSurgery.Apply(work, plan.Masks, cancellationToken);
            if (options.StepsPerRound > 0)
            {
                progress?.Report(new TaskProgress($"round {r}/{options.Rounds}", $"fine-tuning {options.StepsPerRound} steps"));
                var tuned = await FineTuner.Default.FinetuneAsync(work, new FinetuneOptions
                {
                    Train = train, Test = r == options.Rounds ? test : null, EvaluateBefore = false,
                    Trainer = new TrainerOptions { Steps = options.StepsPerRound, BatchSize = options.BatchSize, Seed = options.Seed + r, ProgressInterval = 0 },
                }, null, cancellationToken).ConfigureAwait(false);
                work = tuned.Model;
                last = tuned.Report.After;
                steps += options.StepsPerRound;
            }
        }
        last ??= Evaluator.Evaluate(work, test, cancellationToken: cancellationToken);

        var masks = baseGroups.Where(g => !unmapped.Contains(g.Key))
            .ToDictionary(g => g.Key, g => GroupMask.Create(g.Size, map[g.Key].Order()), StringComparer.Ordinal);
        return new IterativePruneResult(work, masks, last, steps, unmapped.Count);
    }

    /// <summary>Runs <see cref="AddAsync"/> for every task of the shard, skipping tasks the library already has.</summary>
    public static async Task<IReadOnlyList<LibraryFillItem>> FillAsync(TaskLibrary library, OnnxModel baseModel, LibraryFillOptions options,
        IProgress<TaskProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(library);
        ArgumentNullException.ThrowIfNull(baseModel);
        ArgumentNullException.ThrowIfNull(options);
        var fingerprint = ModelFingerprint.Of(baseModel, cancellationToken).Hex;
        var budget = TaskBudget.From(options.Template.Budget);
        var items = new List<LibraryFillItem>();
        var mine = options.Shard.Select(options.Tasks);
        int n = 0;
        foreach (var spec in mine)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var descriptor = spec.ToDescriptor(options.Template.Data);
            progress?.Report(new TaskProgress($"task {++n}/{mine.Count}", descriptor.Describe()));
            if (library.Find(descriptor, fingerprint, budget, cancellationToken) is { Count: > 0 } found)
            {
                items.Add(new LibraryFillItem(spec, found[0], true));
                continue;
            }
            var entry = await AddAsync(library, baseModel, options.Template with { Classes = spec.Classes, Label = spec.Label, SkipExisting = false }, progress, cancellationToken).ConfigureAwait(false);
            items.Add(new LibraryFillItem(spec, entry, false));
        }
        return items;
    }

    /// <summary>The budget of round <paramref name="round"/> of <paramref name="rounds"/> relative to the model as pruned by
    /// the previous rounds: ratios remove an equal share of the base model's units per round; targets step linearly from
    /// the base model's cost to the target.</summary>
    public static PruningBudget RoundBudget(PruningBudget final, ModelCost baseCost, int round, int rounds)
    {
        ArgumentNullException.ThrowIfNull(final);
        double KeepAt(double ratio, int r) => 1 - ratio * r / rounds;
        double Relative(double ratio) => 1 - KeepAt(ratio, round) / KeepAt(ratio, round - 1);
        switch (final)
        {
            case UniformRatioBudget u: return new UniformRatioBudget(round == 1 && rounds == 1 ? u.Ratio : Relative(u.Ratio));
            case GlobalRatioBudget g: return new GlobalRatioBudget(Relative(g.Ratio));
            case TargetBudget t:
                long before = t.Metric switch { CostMetric.Parameters => baseCost.Parameters, CostMetric.Macs => baseCost.Macs, _ => baseCost.WeightBytes };
                return t with { Target = (long)Math.Round(before - (before - (double)t.Target) * round / rounds) };
            default: throw new ArgumentException($"Unknown budget {final.GetType().Name}.", nameof(final));
        }
    }
}
