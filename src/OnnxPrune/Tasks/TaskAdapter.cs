using System.Diagnostics;
using OnnxPrune.Analysis;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Pruning.Importance;
using OnnxPrune.Tensors;
using OnnxPrune.Training;

namespace OnnxPrune.Tasks;

/// <summary>What <see cref="TaskAdapter.AdaptAsync"/> does.</summary>
public sealed record AdaptOptions
{
    /// <summary>The data set (<see cref="TaskData.Load"/>).</summary>
    public string Data { get; init; } = "fashion-mnist";

    /// <summary>The new task's classes (its logit order with <see cref="TaskHead"/>).</summary>
    public required IReadOnlyList<int> Classes { get; init; }

    /// <summary>Nearest tasks that vote (K ≥ 1).</summary>
    public int Neighbors { get; init; } = 3;

    /// <summary>How tasks are compared.</summary>
    public SimilarityKind Embedding { get; init; } = SimilarityKind.Features;

    /// <summary>How neighbours' votes are weighted.</summary>
    public VoteWeighting Weighting { get; init; } = VoteWeighting.Similarity;

    /// <summary>The device budget.</summary>
    public required PruningBudget Budget { get; init; }

    /// <summary>Fine-tuning steps after the one-shot prune (0: none).</summary>
    public int Steps { get; init; } = 100;

    /// <summary>Batch size of fine-tuning.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Cut the classifier to the task's classes (their rows, in the order given).</summary>
    public bool TaskHead { get; init; }

    /// <summary>Seed.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Embedding sampling.</summary>
    public EmbeddingOptions EmbeddingOptions { get; init; } = new();

    /// <summary>Re-estimate BatchNormalization statistics from this many training batches after the prune (0: off).</summary>
    public int RecalibrationBatches { get; init; }

    /// <summary>Ablation: vote with K entries drawn at random (seeded by <see cref="Seed"/>, uniform weights) instead of the nearest.</summary>
    public bool RandomNeighbors { get; init; }
}

/// <summary>One neighbour that voted: its entry, similarity, vote weight and the final mask's agreement (IoU) with it.</summary>
public sealed record AdaptNeighbor(string Id, string Task, double Similarity, double Weight, double Agreement, double Accuracy);

/// <summary>What an adaptation did.</summary>
public sealed record AdaptReport
{
    /// <summary>The base model's fingerprint.</summary>
    public required string BaseFingerprint { get; init; }
    /// <summary>The new task.</summary>
    public required string Task { get; init; }
    /// <summary>The neighbours that voted, most similar first.</summary>
    public required IReadOnlyList<AdaptNeighbor> Neighbors { get; init; }
    /// <summary>The budget.</summary>
    public required string Budget { get; init; }
    /// <summary>Cost of the base model.</summary>
    public required ModelCost Before { get; init; }
    /// <summary>Cost of the adapted model.</summary>
    public required ModelCost After { get; init; }
    /// <summary>Test accuracy right after the prune (before fine-tuning).</summary>
    public double? AccuracyBefore { get; init; }
    /// <summary>Test accuracy after fine-tuning.</summary>
    public double? AccuracyAfter { get; init; }
    /// <summary>Fine-tuning steps.</summary>
    public int Steps { get; init; }
    /// <summary>Whether the head was cut to the task's classes.</summary>
    public bool TaskHead { get; init; }
    /// <summary>Wall milliseconds per stage (embed, neighbors, prune, finetune) and in total.</summary>
    public required IReadOnlyDictionary<string, double> TimingsMs { get; init; }
    /// <summary>Process CPU seconds.</summary>
    public double CpuSeconds { get; init; }
}

/// <summary>The adapted model and its report.</summary>
public sealed record AdaptResult(OnnxModel Model, AdaptReport Report);

/// <summary>Options of <see cref="TaskAdapter.CutAsync"/>.</summary>
public sealed record TaskCutOptions
{
    /// <summary>The device's budget (ratio, parameters, MACs or bytes).</summary>
    public required PruningBudget Budget { get; init; }
    /// <summary>How the neighbours' votes are weighted.</summary>
    public VoteWeighting Weighting { get; init; } = VoteWeighting.Similarity;
    /// <summary>Planner seed (ties).</summary>
    public int Seed { get; init; } = 1;
    /// <summary>When set, the classifier is cut to these classes' rows in this order (<see cref="TaskAdapter.CutHead"/>).</summary>
    public IReadOnlyList<int>? TaskHeadClasses { get; init; }
}

/// <summary>The pruned copy, the kept units per group key, each neighbour's vote weight and agreement, and the costs.</summary>
public sealed record TaskCutResult(OnnxModel Model, IReadOnlyDictionary<string, IReadOnlyList<long>> Kept, IReadOnlyList<double> Weights,
    IReadOnlyList<MaskAgreement> Agreement, ModelCost Before, ModelCost After);

/// <summary>
/// One-shot pruning of a pre-trained model for a new task from the pruned models of similar tasks (Zhao &amp; Long 2023):
/// embed the new task on the base model → the K nearest library entries → <see cref="ScoreMask.Combine"/> (L2 magnitude
/// as the data-free tie-break) → <see cref="ExternalScores.ByGroupKey"/> → <see cref="BudgetPlanner"/> → one surgery →
/// optional head cut → <see cref="FineTuner"/>. The base model is never modified.
/// </summary>
public static class TaskAdapter
{
    /// <summary>Adapts <paramref name="baseModel"/> to the task.</summary>
    /// <exception cref="BaseModelMismatchException">The library holds entries of another base model (both fingerprints named).</exception>
    /// <exception cref="TaskLibraryException">The library has no usable entry.</exception>
    public static async Task<AdaptResult> AdaptAsync(OnnxModel baseModel, TaskLibrary library, AdaptOptions options, IProgress<TaskProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(baseModel);
        ArgumentNullException.ThrowIfNull(library);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Neighbors, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Steps);
        if (options.Classes.Count == 0) throw new ArgumentException("The task needs classes.", nameof(options));
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        var total = Stopwatch.StartNew();
        var clock = Stopwatch.StartNew();
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var timings = new Dictionary<string, double>(StringComparer.Ordinal);
        void Lap(string stage) { timings[stage] = clock.Elapsed.TotalMilliseconds; clock.Restart(); }

        var fingerprint = ModelFingerprint.Of(baseModel, cancellationToken);
        var entries = library.ForBaseModel(fingerprint.Hex, cancellationToken).Entries;
        if (entries.Count == 0) throw new TaskLibraryException($"{library.Root}: the library has no entries to vote.", library.Root);
        var task = new TaskDescriptor { DataSet = options.Data, Classes = options.Classes.ToArray() };

        progress?.Report(new TaskProgress("embed", $"embedding {task.Describe()} ({options.Embedding})"));
        var fullTrain = TaskData.Load(options.Data, train: true);
        var kinds = options.RandomNeighbors ? Array.Empty<string>() : options.Embedding switch
        {
            SimilarityKind.Features => new[] { TaskEmbeddingKinds.Features },
            SimilarityKind.Fisher => new[] { TaskEmbeddingKinds.Fisher },
            _ => Array.Empty<string>(),
        };
        var embeddings = await TaskEmbedder.EmbedAsync(baseModel, fullTrain, options.Classes, kinds, options.EmbeddingOptions, cancellationToken).ConfigureAwait(false);
        Lap("embed");

        var neighbors = options.RandomNeighbors
            ? entries.OrderBy(e => e.Id, StringComparer.Ordinal).ToArray().Shuffled(options.Seed).Take(options.Neighbors).Select(e => new TaskNeighbor(e, 0)).ToArray()
            : TaskSimilarity.NearestTasks(new TaskQuery(task, embeddings), entries, options.Neighbors, options.Embedding);
        if (neighbors.Count == 0) throw new TaskLibraryException($"{library.Root}: no entry has a {options.Embedding} embedding to compare with.", library.Root);
        progress?.Report(new TaskProgress("neighbors", string.Join("; ", neighbors.Select(n => FormattableString.Invariant($"{n.Entry.Task.Describe()} {n.Similarity:F3}")))));
        Lap("neighbors");

        progress?.Report(new TaskProgress("prune", $"one-shot pruning to {options.Budget.Describe()}"));
        var cut = await CutWithFingerprintAsync(baseModel, fingerprint, neighbors, new TaskCutOptions
        {
            Budget = options.Budget, Weighting = options.RandomNeighbors ? VoteWeighting.Uniform : options.Weighting, Seed = options.Seed,
            TaskHeadClasses = options.TaskHead ? options.Classes : null,
        }, cancellationToken).ConfigureAwait(false);
        var (work, costBefore, costAfter) = (cut.Model, cut.Before, cut.After);
        Lap("prune");

        progress?.Report(new TaskProgress("finetune", $"fine-tuning {options.Steps} steps"));
        var tuned = await FineTuner.Default.FinetuneAsync(work, new FinetuneOptions
        {
            Data = options.Data, Classes = options.Classes, EvaluateBefore = true, RecalibrationBatches = options.RecalibrationBatches,
            Trainer = new TrainerOptions { Steps = options.Steps, BatchSize = options.BatchSize, Seed = options.Seed, ProgressInterval = 0 },
        }, null, cancellationToken).ConfigureAwait(false);
        Lap("finetune");
        timings["total"] = total.Elapsed.TotalMilliseconds;

        var report = new AdaptReport
        {
            BaseFingerprint = fingerprint.Hex,
            Task = task.Describe(),
            Neighbors = neighbors.Select((n, i) => new AdaptNeighbor(n.Entry.Id, n.Entry.Task.Describe(), n.Similarity, cut.Weights[i], cut.Agreement[i].IoU, n.Entry.Accuracy)).ToArray(),
            Budget = options.Budget.Describe(),
            Before = costBefore,
            After = costAfter,
            AccuracyBefore = tuned.Report.Before?.Accuracy,
            AccuracyAfter = tuned.Report.After?.Accuracy,
            Steps = options.Steps,
            TaskHead = options.TaskHead,
            TimingsMs = timings,
            CpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds,
        };
        return new AdaptResult(tuned.Model, report);
    }

    /// <summary>
    /// The one-shot cut of <see cref="AdaptAsync"/> without the embedding and the fine-tuning: the neighbours' keep-masks
    /// voted into a score mask (<see cref="ScoreMask.Combine"/>, L2 magnitude as the data-free tie-break), planned to the
    /// budget, one surgery pass on a copy of <paramref name="baseModel"/>, then the optional head cut. For callers that
    /// choose the neighbours themselves (an ablation with random ones, a study comparing K on one embedding).
    /// </summary>
    /// <exception cref="BaseModelMismatchException">A neighbour was recorded on another base model.</exception>
    public static async Task<TaskCutResult> CutAsync(OnnxModel baseModel, IReadOnlyList<TaskNeighbor> neighbors, TaskCutOptions options,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(baseModel);
        ArgumentNullException.ThrowIfNull(neighbors);
        ArgumentNullException.ThrowIfNull(options);
        if (neighbors.Count == 0) throw new ArgumentException("The cut needs at least one neighbour.", nameof(neighbors));
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        return await CutWithFingerprintAsync(baseModel, ModelFingerprint.Of(baseModel, cancellationToken), neighbors, options, cancellationToken).ConfigureAwait(false);
    }

    // The cut for a base model whose fingerprint the caller has computed already (AdaptAsync hashes it for the library).
    private static async Task<TaskCutResult> CutWithFingerprintAsync(OnnxModel baseModel, ModelFingerprint fingerprint, IReadOnlyList<TaskNeighbor> neighbors, TaskCutOptions options,
        CancellationToken cancellationToken)
    {
        var work = OnnxModel.FromBytes(baseModel.ToBytes(), baseModel.SourcePath ?? "model");
        var analysis = DependencyAnalyzer.Analyze(work, cancellationToken);
        var groups = analysis.Groups;
        var l2 = await new MagnitudeCriterion(2).ScoreAsync(ImportanceContext.For(work, groups), cancellationToken).ConfigureAwait(false);
        var tieBreak = groups.Where(g => l2.TryGet(g.Id, out _)).ToDictionary(g => g.Key, g => l2[g.Id].Select(v => (float)v).ToArray(), StringComparer.Ordinal);
        var votes = ScoreMask.Combine(neighbors, options.Weighting, tieBreak, fingerprint.Hex);
        var external = ExternalScores.ByGroupKey(votes.Scores.ToDictionary(kv => kv.Key, kv => kv.Value.Select(v => (double)v).ToArray(), StringComparer.Ordinal), fingerprint, "task-votes");
        var scores = await external.ScoreAsync(ImportanceContext.For(work, groups), cancellationToken).ConfigureAwait(false);
        var costBefore = CostModel.Of(work, analysis, cancellationToken: cancellationToken);
        var plan = BudgetPlanner.Plan(groups, scores, options.Budget, new PlannerOptions { Seed = options.Seed }, costBefore);
        var kept = plan.Masks.ToDictionary(m => m.Group.Key, m => m.Kept, StringComparer.Ordinal);
        var agreement = ScoreMask.Agreement(kept, neighbors);
        PruningSurgery.Apply(work, plan.Masks, cancellationToken);
        if (options.TaskHeadClasses is { } classes) CutHead(work, classes);
        var costAfter = CostModel.Of(work, cancellationToken: cancellationToken).Total;
        return new TaskCutResult(work, kept, votes.Weights, agreement, costBefore.Total, costAfter);
    }

    /// <summary>Cuts the classifier (<see cref="TaskEmbedder.FinalLayer"/>, its bias, and a following constant Add) to
    /// <paramref name="classes"/>' rows in that order, so the model outputs one logit per task class; edits in place.</summary>
    /// <exception cref="UnsupportedModelException">The head has no constant weight, or a class is out of range.</exception>
    public static void CutHead(OnnxModel model, IReadOnlyList<int> classes)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(classes);
        var node = TaskEmbedder.FinalLayer(model);
        var w = node.Input(1)!.Constant!;
        int axis = node.OpType == "Gemm" && node.Attributes.GetInt("transB", 0) == 1 ? 0 : 1;
        long outputs = w.Shape[axis];
        if (classes.Any(c => c < 0 || c >= outputs))
            throw new UnsupportedModelException($"{model.SourcePath ?? "model"}: the head '{node.DisplayName}' has {outputs} outputs; classes {string.Join(",", classes)} do not fit.");
        if (w.Value.Consumers.Count != 1)
            throw new UnsupportedModelException($"{model.SourcePath ?? "model"}: the head weight '{w.Name}' is shared; cannot cut it.");
        var rows = classes.Select(c => (long)c).ToArray();
        w.Data = TensorSlicing.Take(w.Data, axis, rows);
        if (node.OpType == "Gemm" && node.Input(2)?.Constant is { } b && b.Shape.Count >= 1 && b.Shape[^1] == outputs)
            b.Data = TensorSlicing.Take(b.Data, b.Shape.Count - 1, rows);
        else if (node.OpType == "MatMul" && node.Output(0)!.Consumers is [{ OpType: "Add" } add])
        {
            var bias = add.Inputs.FirstOrDefault(i => i?.Constant is { } c && c.Shape.Count >= 1 && c.Shape[^1] == outputs)?.Constant;
            if (bias is not null) bias.Data = TensorSlicing.Take(bias.Data, bias.Shape.Count - 1, rows);
        }
        // Values downstream of the head carry the old class count: graph outputs get the new one, the rest lose their stale shape.
        var pending = new Stack<Value>([node.Output(0)!]);
        var seen = new HashSet<Value>(ReferenceEqualityComparer.Instance);
        while (pending.Count > 0)
        {
            var v = pending.Pop();
            if (!seen.Add(v)) continue;
            if (v.HasType && v.Shape is { Count: > 0 } s && s[^1].Value == outputs)
                v.SetTensorType(v.ElementType, v.IsGraphOutput ? [.. s.Take(s.Count - 1), new Dim(classes.Count)] : null);
            foreach (var c in v.Consumers)
                foreach (var o in c.Outputs)
                    if (o is not null) pending.Push(o);
        }
    }
}

internal static class ShuffleExtensions
{
    public static T[] Shuffled<T>(this T[] items, int seed)
    {
        var copy = items.ToArray();
        new Random(seed).Shuffle(copy);
        return copy;
    }
}

/// <summary>Similarity search of a new task against a library (what <c>library similar</c> binds).</summary>
public static class TaskSearch
{
    /// <summary>The K library entries (of this base model) most similar to the task, most similar first.</summary>
    /// <exception cref="BaseModelMismatchException">The library holds entries of another base model.</exception>
    public static async Task<IReadOnlyList<TaskNeighbor>> SimilarAsync(TaskLibrary library, OnnxModel baseModel, string data, IReadOnlyList<int> classes, int k,
        SimilarityKind kind, CancellationToken cancellationToken = default, EmbeddingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(library);
        ArgumentNullException.ThrowIfNull(baseModel);
        ArgumentNullException.ThrowIfNull(classes);
        var fingerprint = ModelFingerprint.Of(baseModel, cancellationToken).Hex;
        var entries = library.ForBaseModel(fingerprint, cancellationToken).Entries;
        var kinds = kind switch { SimilarityKind.Features => new[] { TaskEmbeddingKinds.Features }, SimilarityKind.Fisher => [TaskEmbeddingKinds.Fisher], _ => [] };
        var embeddings = await TaskEmbedder.EmbedAsync(baseModel, TaskData.Load(data, train: true), classes, kinds, options, cancellationToken).ConfigureAwait(false);
        return TaskSimilarity.NearestTasks(new TaskQuery(new TaskDescriptor { DataSet = data, Classes = classes.ToArray() }, embeddings), entries, k, kind);
    }
}
