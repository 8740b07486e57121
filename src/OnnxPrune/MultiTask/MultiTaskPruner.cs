using System.Diagnostics;
using OnnxPrune.Analysis;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Pruning.Importance;
using OnnxPrune.Runtime;
using OnnxPrune.Training;

namespace OnnxPrune.MultiTask;

/// <summary>The multi-task importance criteria.</summary>
public enum MultiTaskCriterion
{
    /// <summary><see cref="GateTaylorCriterion"/> on the summed loss.</summary>
    Taylor,
    /// <summary><see cref="GradientCosineCriterion"/> between the tasks' gradients.</summary>
    Cosine,
}

/// <summary>Options of <see cref="MultiTaskPruner"/>.</summary>
public sealed record MultiTaskPruneOptions
{
    /// <summary>Options with every default, for <paramref name="tasks"/> trained on <paramref name="train"/> (set a budget with <c>with</c>).</summary>
    public static MultiTaskPruneOptions For(MultiTaskSpec tasks, IDataset train) => new() { Tasks = tasks, Train = train };

    /// <summary>The tasks (outputs, targets, losses, weights).</summary>
    public required MultiTaskSpec Tasks { get; init; }

    /// <summary>Training data with a target per task (<see cref="MultiTaskData.Build"/>).</summary>
    public required IDataset Train { get; init; }

    /// <summary>Held-out data for the per-task report; null: no evaluation.</summary>
    public IDataset? Test { get; init; }

    /// <summary>Samples of <see cref="Test"/> scored after each round (the final scores use all of it).</summary>
    public int RoundEvaluationSamples { get; init; } = 2000;

    /// <summary>The criterion.</summary>
    public MultiTaskCriterion Criterion { get; init; } = MultiTaskCriterion.Taylor;

    /// <summary>Fraction of each pool's units to remove (shared units, and each task's head units), in (0, 1); or null with <see cref="TargetParameters"/>.</summary>
    public double? Ratio { get; init; }

    /// <summary>Stop once the model has at most this many parameters; or null with <see cref="Ratio"/>.</summary>
    public long? TargetParameters { get; init; }

    /// <summary>Training steps between two pruning rounds (S).</summary>
    public int PruneEvery { get; init; } = 50;

    /// <summary>Shared units removed per round (P); 0: enough to reach the target in 8 rounds.</summary>
    public int PruneUnits { get; init; }

    /// <summary>Fine-tuning steps once the target is reached (with <see cref="Reinitialize"/>: added to the steps of the rounds, all from scratch).</summary>
    public int Steps { get; init; } = 200;

    /// <summary>Each group keeps at least this fraction of its original units (and at least <see cref="MinKeepUnits"/>).</summary>
    public double MinKeepFraction { get; init; } = 0.1;

    /// <summary>Each group keeps at least this many units.</summary>
    public int MinKeepUnits { get; init; } = 2;

    /// <summary>Take the pruned architecture, re-initialise it (seeded, He/Xavier per layer) and train it from scratch with the same step budget.</summary>
    public bool Reinitialize { get; init; }

    /// <summary>Optimizer of every training phase.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Sgd;

    /// <summary>Learning rate of the rounds and fine-tuning; null: 0.01 (SGD) or 5e-4 (AdamW).</summary>
    public float? LearningRate { get; init; }

    /// <summary>Peak learning rate when training from scratch (<see cref="Reinitialize"/>); null: 0.05 (SGD) or 2e-3 (AdamW).</summary>
    public float? ScratchLearningRate { get; init; }

    /// <summary>Samples per training batch.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>How the criteria sample gradients.</summary>
    public GradientScoringOptions Scoring { get; init; } = new();

    /// <summary>Seed of training, scoring and re-initialisation.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Intra-op threads of every session (0: ONNX Runtime's default).</summary>
    public int IntraOpThreads { get; init; }
}

/// <summary>Stages of a multi-task pruning run.</summary>
public enum MultiTaskStage
{
    /// <summary>Scoring the dense model.</summary>
    Evaluate,
    /// <summary>Training between rounds.</summary>
    Train,
    /// <summary>Scoring units and removing the lowest.</summary>
    Prune,
    /// <summary>Fine-tuning after the last round.</summary>
    Finetune,
    /// <summary>Re-initialising and training from scratch.</summary>
    Reinitialize,
}

/// <summary>Progress of a multi-task pruning run: a line, and each task's score when one was measured.</summary>
public readonly record struct MultiTaskPruneProgress(MultiTaskStage Stage, int Round, string Message, long Parameters, IReadOnlyList<TaskScore>? Scores = null);

/// <summary>One pruning round.</summary>
/// <param name="Round">1-based.</param>
/// <param name="UnitsRemoved">Units removed in this round (shared and head).</param>
/// <param name="Parameters">Parameters after it.</param>
/// <param name="Scores">Each task's score after it (on <see cref="MultiTaskPruneOptions.RoundEvaluationSamples"/> test samples); null without test data.</param>
public sealed record MultiTaskRound(int Round, long UnitsRemoved, long Parameters, IReadOnlyList<TaskScore>? Scores);

/// <summary>The width of one group before and after (e.g. to compare the architectures two criteria choose).</summary>
/// <param name="Group">The group's stable name: its root node's first output.</param>
/// <param name="Pool">"shared" or the task whose head it is.</param>
/// <param name="Original">Units before.</param>
/// <param name="Kept">Units after.</param>
public sealed record GroupWidth(string Group, string Pool, long Original, long Kept);

/// <summary>What a multi-task pruning run did.</summary>
public sealed record MultiTaskPruneReport
{
    /// <summary>The criterion's name.</summary>
    public required string Criterion { get; init; }
    /// <summary>Parameters of the dense model.</summary>
    public required long ParametersBefore { get; init; }
    /// <summary>Parameters of the result.</summary>
    public required long ParametersAfter { get; init; }
    /// <summary>Each round.</summary>
    public required IReadOnlyList<MultiTaskRound> Rounds { get; init; }
    /// <summary>Each group's width before and after.</summary>
    public required IReadOnlyList<GroupWidth> Widths { get; init; }
    /// <summary>Training steps in all (rounds and fine-tuning, or the from-scratch run).</summary>
    public required int TrainingSteps { get; init; }
    /// <summary>Whether the result was re-initialised and trained from scratch.</summary>
    public bool Reinitialized { get; init; }
    /// <summary>Each task's score of the dense model on the whole test data (null without).</summary>
    public IReadOnlyList<TaskScore>? Before { get; init; }
    /// <summary>Each task's score of the result on the whole test data (null without).</summary>
    public IReadOnlyList<TaskScore>? After { get; init; }
    /// <summary>Wall time per stage, milliseconds.</summary>
    public required IReadOnlyDictionary<string, double> TimingsMs { get; init; }
    /// <summary>
    /// Tasks whose output of the result is the same for every test sample (<see cref="MultiTaskEvaluator.ConstantOutputTasks"/>):
    /// the training collapsed (dead network) and their metric is that of a constant answer. Empty when healthy or without test data.
    /// </summary>
    public IReadOnlyList<string> CollapsedTasks { get; init; } = [];
}

/// <summary>The result: the pruned (and trained) model and the report.</summary>
public sealed record MultiTaskPruneResult(OnnxModel Model, MultiTaskPruneReport Report);

/// <summary>
/// Iterative multi-task structured pruning (Garg, Zhang, Guan 2023): train S steps, score every unit with a multi-task criterion,
/// remove the P lowest-ranked shared units (one global ranking) and, with them, the same share of each task's head units
/// (ranked within that task), until the target; then fine-tune; or re-initialise the pruned architecture and train it from scratch.
/// </summary>
/// <remarks>
/// Pools: a group whose activations reach two or more task outputs is shared; one that reaches a single task's output is a
/// head group of that task (<see cref="TaskReach"/>); groups reaching none are left alone. A pool stops at its ratio target;
/// a group stops at its minimum keep (max of the analyser's minimum, <see cref="MultiTaskPruneOptions.MinKeepUnits"/> and
/// <see cref="MultiTaskPruneOptions.MinKeepFraction"/> of its original width). With a parameter target the shared pool is
/// cut until the estimated parameters (each unit's share of its group's parameters) reach it, heads following at the same
/// share. The caller's model is never modified; everything happens on a copy, and nothing is returned on failure.
/// </remarks>
public sealed class MultiTaskPruner
{
    /// <summary>The pipeline.</summary>
    public static MultiTaskPruner Default { get; } = new();

    /// <summary>Prunes <paramref name="model"/>; returns to the caller at once and works on the thread pool.</summary>
    /// <exception cref="PruningConstraintException">The target cannot be reached within the minimum keeps.</exception>
    /// <exception cref="UnsupportedModelException">A task's output is missing, or the model cannot be differentiated.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public Task<MultiTaskPruneResult> PruneAsync(OnnxModel model, MultiTaskPruneOptions options, IProgress<MultiTaskPruneProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        if ((options.Ratio is null) == (options.TargetParameters is null)) throw new ArgumentException("Give exactly one of Ratio and TargetParameters.", nameof(options));
        if (options.Ratio is double r && !(r > 0 && r < 1)) throw new ArgumentException($"Ratio {r} is outside (0, 1).", nameof(options));
        if (options.TargetParameters is long t && t <= 0) throw new ArgumentException($"Target parameters {t} must be positive.", nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.PruneEvery, 0);
        ArgumentOutOfRangeException.ThrowIfNegative(options.PruneUnits);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Steps);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1);
        options.Tasks.EnsureFits(model);
        var copy = OnnxModel.FromBytes(model.ToBytes(), model.SourcePath ?? "model");
        return Task.Run(() => Run(copy, options, progress, cancellationToken), cancellationToken);
    }

    private sealed record Pool(string Name, List<PruningGroup> Groups);

    private static async Task<MultiTaskPruneResult> Run(OnnxModel work, MultiTaskPruneOptions o, IProgress<MultiTaskPruneProgress>? progress, CancellationToken ct)
    {
        var timings = new Dictionary<string, double>(StringComparer.Ordinal);
        var clock = Stopwatch.StartNew();
        void Lap(string stage) { timings[stage] = timings.GetValueOrDefault(stage) + clock.Elapsed.TotalMilliseconds; clock.Restart(); }
        var session = new SessionSettings { IntraOpThreads = o.IntraOpThreads, AllowSpinning = false };
        var losses = o.Tasks.Losses;
        var outputs = o.Tasks.Tasks.Select(t => t.Output).Distinct().ToArray();
        var roundTest = o.Test is null ? null : Subset(o.Test, o.RoundEvaluationSamples);
        long paramsBefore = PruningSurgery.Parameters(work.Graph);

        IReadOnlyList<TaskScore>? before = null;
        if (o.Test is not null)
        {
            before = MultiTaskEvaluator.Evaluate(work, o.Tasks, o.Test, 256, session, ct);
            progress?.Report(new MultiTaskPruneProgress(MultiTaskStage.Evaluate, 0, $"dense: {string.Join(", ", before)}", paramsBefore, before));
            Lap("evaluate");
        }

        // Original widths and pools, by stable group name.
        var first = DependencyAnalyzer.Analyze(work);
        var firstReach = TaskReach.OutputsReached(work, first.Groups, outputs);
        var original = new Dictionary<string, (long Size, string Pool)>(StringComparer.Ordinal);
        foreach (var g in first.Groups.Where(g => !g.IsBlocked && firstReach[g.Id].Count > 0))
            original[NameOf(g)] = (g.Size, firstReach[g.Id].Count > 1 ? "shared" : TaskOf(o.Tasks, firstReach[g.Id][0]));
        long PoolOriginal(string pool) => original.Values.Where(v => v.Pool == pool).Sum(v => v.Size);
        long sharedOriginal = PoolOriginal("shared");
        if (original.Count == 0) throw new PruningConstraintException($"{work.SourcePath ?? "the model"}: no prunable group reaches a task output.");
        long MinKeep(PruningGroup g) => Math.Max(g.MinKeep, Math.Max(o.MinKeepUnits,
            (long)Math.Ceiling(o.MinKeepFraction * (original.TryGetValue(NameOf(g), out var s) ? s.Size : g.Size))));
        int perRound = o.PruneUnits > 0 ? o.PruneUnits
            : (int)Math.Max(1, Math.Ceiling((o.Ratio ?? Math.Min(0.9, 1 - (double)o.TargetParameters!.Value / paramsBefore)) * Math.Max(sharedOriginal, 1) / 8));

        var rounds = new List<MultiTaskRound>();
        int stepsTrained = 0;
        var optimizer = OptimizerOptions.For(o.Optimizer);
        float rate = o.LearningRate ?? (o.Optimizer == OptimizerKind.Sgd ? 0.01f : 5e-4f);
        TrainerOptions TrainerFor(int steps, LearningRateSchedule schedule, int seed) => new()
        {
            BatchSize = o.BatchSize, Steps = steps, Seed = seed, IntraOpThreads = o.IntraOpThreads, BatchNorm = BatchNormMode.BatchStatistics,
            Optimizer = optimizer, Schedule = schedule, Losses = losses, ProgressInterval = Math.Max(1, steps / 2),
        };
        async Task<OnnxModel> Train(OnnxModel m, int steps, LearningRateSchedule schedule, int seed, MultiTaskStage stage, int round)
        {
            if (steps == 0) return m;
            using var trainer = new Trainer(m, TrainerFor(steps, schedule, seed));
            var p = progress is null ? null : new SynchronousProgress<TrainingProgress>(tp =>
                progress.Report(new MultiTaskPruneProgress(stage, round, tp.ToString(), PruningSurgery.Parameters(m.Graph))));
            await trainer.TrainAsync(o.Train, null, p, ct).ConfigureAwait(false);
            stepsTrained += steps;
            return trainer.ExportModel();
        }

        for (int round = 1; ; round++)
        {
            ct.ThrowIfCancellationRequested();
            var analysis = DependencyAnalyzer.Analyze(work);
            var reach = TaskReach.OutputsReached(work, analysis.Groups, outputs);
            var pools = new Dictionary<string, Pool>(StringComparer.Ordinal);
            foreach (var g in analysis.Groups.Where(g => !g.IsBlocked && reach[g.Id].Count > 0))
            {
                var name = reach[g.Id].Count > 1 ? "shared" : TaskOf(o.Tasks, reach[g.Id][0]);
                if (!pools.TryGetValue(name, out var pool)) pools[name] = pool = new Pool(name, []);
                pool.Groups.Add(g);
            }
            long parameters = PruningSurgery.Parameters(work.Graph);
            long PoolNow(string pool) => pools.TryGetValue(pool, out var p) ? p.Groups.Sum(g => g.Size) : 0;
            long Removable(string pool) => pools.TryGetValue(pool, out var p) ? p.Groups.Sum(g => g.Size - MinKeep(g)) : 0;
            // How many units each pool should lose this round.
            var quota = new Dictionary<string, long>(StringComparer.Ordinal);
            long sharedNow = PoolNow("shared");
            if (o.Ratio is double ratio)
            {
                foreach (var pool in pools.Keys)
                {
                    long goal = (long)Math.Round(PoolOriginal(pool) * (1 - ratio));
                    long gap = Math.Min(PoolNow(pool) - goal, Removable(pool));
                    quota[pool] = pool == "shared" ? Math.Min(perRound, gap) : gap;
                }
                // Heads follow the shared pool's share: after this round it will have lost f of its units.
                double f = sharedOriginal == 0 ? 1 : 1 - (double)(sharedNow - quota.GetValueOrDefault("shared")) / sharedOriginal;
                foreach (var pool in pools.Keys.Where(p => p != "shared"))
                    quota[pool] = Math.Max(0, Math.Min(quota[pool], PoolNow(pool) - (long)Math.Round(PoolOriginal(pool) * (1 - Math.Min(f, ratio)))));
            }
            else
            {
                if (parameters <= o.TargetParameters!.Value) quota.Clear();
                else
                {
                    quota["shared"] = Math.Min(perRound, Removable("shared"));
                    double f = sharedOriginal == 0 ? 1 : 1 - (double)(sharedNow - quota["shared"]) / sharedOriginal;
                    foreach (var pool in pools.Keys.Where(p => p != "shared"))
                        quota[pool] = Math.Max(0, Math.Min(Removable(pool), PoolNow(pool) - (long)Math.Round(PoolOriginal(pool) * (1 - f))));
                }
            }
            if (quota.Values.Sum() == 0)
            {
                if (o.TargetParameters is long target && parameters > target)
                    throw new PruningConstraintException(
                        $"{work.SourcePath ?? "the model"}: {parameters:N0} parameters remain at the minimum keeps ({o.MinKeepUnits} units, {o.MinKeepFraction:P0} per group); the target {target:N0} is out of reach.");
                break;
            }

            work = await Train(work, o.PruneEvery, new LearningRateSchedule { BaseRate = rate, Kind = ScheduleKind.Constant }, o.Seed + round, MultiTaskStage.Train, round).ConfigureAwait(false);
            Lap("train");
            // The trained copy is a new instance: analyse it again (same architecture, same groups).
            analysis = DependencyAnalyzer.Analyze(work);
            var groupsByName = analysis.Groups.Where(g => !g.IsBlocked).ToDictionary(NameOf, StringComparer.Ordinal);
            foreach (var pool in pools.Values)
                for (int i = 0; i < pool.Groups.Count; i++) pool.Groups[i] = groupsByName[NameOf(pool.Groups[i])];

            IImportanceCriterion criterion = o.Criterion == MultiTaskCriterion.Cosine
                ? new GradientCosineCriterion(losses, o.Scoring with { Session = session, Seed = o.Seed + round })
                : new GateTaylorCriterion(losses, o.Scoring with { Session = session, Seed = o.Seed + round });
            var context = new ImportanceContext { Model = work, Groups = analysis.Groups, Data = o.Train };
            var scores = await criterion.ScoreAsync(context, ct).ConfigureAwait(false);
            var removed = new Dictionary<PruningGroup, HashSet<long>>();
            long unitsRemoved = 0;
            foreach (var (name, pool) in pools)
            {
                long want = quota.GetValueOrDefault(name);
                if (want <= 0) continue;
                var candidates = pool.Groups.SelectMany(g => Enumerable.Range(0, checked((int)g.Size)).Select(u => (Group: g, Unit: (long)u,
                        Score: scores.TryGet(g.Id, out var s) ? s[u] : double.PositiveInfinity)))
                    .OrderBy(c => c.Score).ThenBy(c => c.Group.Id).ThenBy(c => c.Unit).ToList();
                long estimated = PruningSurgery.Parameters(work.Graph);
                var costPerUnit = pool.Groups.ToDictionary(g => g, g => (double)AnalysisReport.CoveredParameters([g]) / g.Size);
                foreach (var c in candidates)
                {
                    if (want == 0) break;
                    if (double.IsPositiveInfinity(c.Score)) break;
                    if (!removed.TryGetValue(c.Group, out var set)) removed[c.Group] = set = [];
                    if (c.Group.Size - set.Count <= MinKeep(c.Group)) continue;
                    set.Add(c.Unit);
                    want--;
                    unitsRemoved++;
                    estimated -= (long)costPerUnit[c.Group];
                    if (name == "shared" && o.TargetParameters is long tp && estimated <= tp) break;
                }
            }
            if (unitsRemoved == 0)
                throw new PruningConstraintException($"{work.SourcePath ?? "the model"}: the {criterion.Name} criterion scored no removable unit in round {round}.");
            var masks = removed.Where(p => p.Value.Count > 0)
                .Select(p => new KeepMask(p.Key, Enumerable.Range(0, checked((int)p.Key.Size)).Select(u => (long)u).Where(u => !p.Value.Contains(u)).ToArray())).ToArray();
            PruningSurgery.Apply(work, masks);
            long after = PruningSurgery.Parameters(work.Graph);
            Lap("prune");
            IReadOnlyList<TaskScore>? roundScores = roundTest is null ? null : MultiTaskEvaluator.Evaluate(work, o.Tasks, roundTest, 256, session, ct);
            Lap("evaluate");
            rounds.Add(new MultiTaskRound(round, unitsRemoved, after, roundScores));
            progress?.Report(new MultiTaskPruneProgress(MultiTaskStage.Prune, round,
                $"round {round}: removed {unitsRemoved} units ({criterion.Name}), {after:N0} parameters" + (roundScores is null ? "" : $"; {string.Join(", ", roundScores)}"), after, roundScores));
        }

        if (o.Reinitialize)
        {
            int total = stepsTrained + o.Steps;
            stepsTrained = 0;
            Reinitializer.Apply(work, o.Seed);
            progress?.Report(new MultiTaskPruneProgress(MultiTaskStage.Reinitialize, rounds.Count, $"re-initialised the pruned architecture; training {total} steps from scratch", PruningSurgery.Parameters(work.Graph)));
            float scratch = o.ScratchLearningRate ?? (o.Optimizer == OptimizerKind.Sgd ? 0.05f : 2e-3f);
            work = await Train(work, total, new LearningRateSchedule { BaseRate = scratch, Kind = ScheduleKind.Cosine, WarmupSteps = Math.Min(100, total / 10) },
                o.Seed, MultiTaskStage.Reinitialize, rounds.Count).ConfigureAwait(false);
        }
        else
            work = await Train(work, o.Steps, new LearningRateSchedule { BaseRate = rate, Kind = ScheduleKind.Cosine }, o.Seed, MultiTaskStage.Finetune, rounds.Count).ConfigureAwait(false);
        Lap(o.Reinitialize ? "reinitialize" : "finetune");

        IReadOnlyList<TaskScore>? final = null;
        IReadOnlyList<string> collapsed = [];
        if (o.Test is not null)
        {
            final = MultiTaskEvaluator.Evaluate(work, o.Tasks, o.Test, 256, session, ct);
            progress?.Report(new MultiTaskPruneProgress(MultiTaskStage.Evaluate, rounds.Count, $"pruned: {string.Join(", ", final)}", PruningSurgery.Parameters(work.Graph), final));
            collapsed = MultiTaskEvaluator.ConstantOutputTasks(work, o.Tasks, o.Test, 256, session);
            if (collapsed.Count > 0)
                progress?.Report(new MultiTaskPruneProgress(MultiTaskStage.Evaluate, rounds.Count,
                    $"warning: training collapsed: the output of {string.Join(", ", collapsed)} is the same for every test sample (dead network)", PruningSurgery.Parameters(work.Graph)));
            Lap("evaluate");
        }
        var finalGroups = DependencyAnalyzer.Analyze(work).Groups.Where(g => !g.IsBlocked).ToDictionary(NameOf, g => g.Size, StringComparer.Ordinal);
        var widths = original.Select(p => new GroupWidth(p.Key, p.Value.Pool, p.Value.Size, finalGroups.GetValueOrDefault(p.Key, p.Value.Size))).ToArray();
        var report = new MultiTaskPruneReport
        {
            Criterion = o.Criterion == MultiTaskCriterion.Cosine ? "gradient-cosine" : "gate-taylor",
            ParametersBefore = paramsBefore, ParametersAfter = PruningSurgery.Parameters(work.Graph), Rounds = rounds, Widths = widths,
            TrainingSteps = stepsTrained, Reinitialized = o.Reinitialize, Before = before, After = final, TimingsMs = timings,
            CollapsedTasks = collapsed,
        };
        return new MultiTaskPruneResult(work, report);
    }

    private static string NameOf(PruningGroup g) => GroupNames.Of(g);

    private static string TaskOf(MultiTaskSpec spec, string output) => spec.Tasks.First(t => t.Output == output).Name;

    private static IDataset Subset(IDataset data, int count)
    {
        if (count <= 0 || count >= data.Count) return data;
        var batch = data.GetBatch(Enumerable.Range(0, count).ToArray());
        return new TensorDataset(data.Name + $"[:{count}]", batch.Inputs, batch.Targets);
    }
}
