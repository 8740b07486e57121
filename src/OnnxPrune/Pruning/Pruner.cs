using System.Diagnostics;
using OnnxPrune.Analysis;
using OnnxPrune.Analysis.Rules;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Pruning.Importance;

namespace OnnxPrune.Pruning;

/// <summary>Stages of a pruning run, for progress.</summary>
public enum PruneStage
{
    /// <summary>Dependency analysis.</summary>
    Analyze,
    /// <summary>Importance scoring.</summary>
    Score,
    /// <summary>Budget planning.</summary>
    Plan,
    /// <summary>Graph surgery.</summary>
    Surgery,
    /// <summary>Counting the pruned model.</summary>
    Count,
    /// <summary>Comparing the pruned model with the masked reference on ONNX Runtime.</summary>
    Verify,
}

/// <summary>Progress of a pruning run.</summary>
/// <param name="Stage">Current stage.</param>
/// <param name="Message">What is happening.</param>
/// <param name="Fraction">Progress within the stage, in [0, 1], when known.</param>
public readonly record struct PruneProgress(PruneStage Stage, string Message, double? Fraction = null);

/// <summary>What <see cref="Pruner.PruneAsync"/> should do.</summary>
public sealed record PruneOptions
{
    /// <summary>The importance criterion.</summary>
    public required IImportanceCriterion Criterion { get; init; }

    /// <summary>How much to prune.</summary>
    public required PruningBudget Budget { get; init; }

    /// <summary>Planner constraints.</summary>
    public PlannerOptions Planner { get; init; } = new();

    /// <summary>Concrete input dims for MAC counting.</summary>
    public CostOptions Cost { get; init; } = new();

    /// <summary>Input batches for data-driven criteria.</summary>
    public IDataProvider? Data { get; init; }

    /// <summary>When set, the pruned model is checked against the masked reference on ONNX Runtime
    /// (<see cref="EquivalenceCheck"/>); the result goes to <see cref="PruneReport.Verification"/>.</summary>
    public VerificationOptions? Verify { get; init; }
}

/// <summary>Analyses a model (the dependency analyser): its pruning groups, with the shape facts and op rules they were
/// built from, which the pipeline's cost model reuses (so a custom rule registry counts costs too).</summary>
public delegate DependencyAnalysis GroupAnalyzer(OnnxModel model, CancellationToken cancellationToken);

/// <summary>Applies keep-masks to a model in place (the one-pass surgery). On failure it must leave the model as it was.</summary>
public delegate void MaskSurgery(OnnxModel model, IReadOnlyList<KeepMask> masks, CancellationToken cancellationToken);

/// <summary>
/// The pruning pipeline on one model, in place: analyse → score → plan → surgery → count. Criteria, planner and
/// surgery stay separate; this class only orders them, times them and writes the report.
/// </summary>
public sealed class Pruner
{
    private readonly GroupAnalyzer _analyze;
    private readonly MaskSurgery _surgery;

    /// <summary>The pipeline over <see cref="DependencyAnalyzer"/> and <see cref="PruningSurgery"/>.</summary>
    public static Pruner Default { get; } = new((model, ct) => DependencyAnalyzer.Analyze(model, ct), (model, masks, ct) => PruningSurgery.Apply(model, masks, ct));

    /// <summary>The default pipeline with analysis options (e.g. <see cref="AnalysisOptions.AllowInterfaceChange"/>; with
    /// it, verification feeds the pruned model the kept positions of changed inputs and compares the kept positions of
    /// changed outputs).</summary>
    public static Pruner With(AnalysisOptions analysis)
    {
        ArgumentNullException.ThrowIfNull(analysis);
        return new((model, ct) => DependencyAnalyzer.Analyze(model, analysis, ct), (model, masks, ct) => PruningSurgery.Apply(model, masks, ct));
    }

    /// <summary>The default pipeline over an analyser with its own op rules (e.g. <see cref="OpRuleRegistry.CreateDefault"/>
    /// with a rule replaced): the rules decide the groups and, through the analysis, the costs the budget is planned on.</summary>
    public static Pruner With(DependencyAnalyzer analyzer)
    {
        ArgumentNullException.ThrowIfNull(analyzer);
        return new((model, ct) => analyzer.Run(model, ct), (model, masks, ct) => PruningSurgery.Apply(model, masks, ct));
    }

    /// <summary>Creates a pipeline over an analyser and a surgery.</summary>
    public Pruner(GroupAnalyzer analyze, MaskSurgery surgery)
    {
        _analyze = analyze ?? throw new ArgumentNullException(nameof(analyze));
        _surgery = surgery ?? throw new ArgumentNullException(nameof(surgery));
    }

    /// <summary>Prunes <paramref name="model"/> in place and reports what was done. Returns to the caller at once: all
    /// work, analysis included, runs on the thread pool after the first await.</summary>
    /// <remarks>On failure or cancellation the model is left as it was: every stage before surgery only reads it, and
    /// surgery validates the whole plan before its first edit.</remarks>
    /// <exception cref="PruningConstraintException">The budget cannot be met.</exception>
    /// <exception cref="NonFiniteWeightsException">A weight the criterion scores holds NaN or ±infinity (found when the
    /// scores come out NaN or infinite).</exception>
    /// <exception cref="Analysis.ModelMismatchException">The criterion's scores were made for another model.</exception>
    public async Task<PruneReport> PruneAsync(OnnxModel model, PruneOptions options, IProgress<PruneProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        // Nothing synchronous before the first await: the caller gets its task back at once and the work runs on the pool.
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        cancellationToken.ThrowIfCancellationRequested();
        var timings = new Dictionary<string, double>(StringComparer.Ordinal);
        var clock = Stopwatch.StartNew();
        double Lap(string stage) { var ms = clock.Elapsed.TotalMilliseconds; clock.Restart(); timings[stage] = ms; return ms; }

        progress?.Report(new PruneProgress(PruneStage.Analyze, "analysing dependencies"));
        var analysis = _analyze(model, cancellationToken);
        var groups = analysis.Groups;
        Lap("analyze");
        // The analysis's shapes and rules: no second shape inference, and a custom registry's costs reach the planner.
        var before = CostModel.Of(model, analysis, options.Cost, cancellationToken);
        Lap("countBefore");
        cancellationToken.ThrowIfCancellationRequested();

        progress?.Report(new PruneProgress(PruneStage.Score, $"scoring {groups.Count} groups with {options.Criterion.Name}", 0));
        var scoreProgress = progress is null ? null : new SynchronousProgress<ImportanceProgress>(p =>
            progress.Report(new PruneProgress(PruneStage.Score, $"{p.Stage}: {p.Done}/{p.Total}", p.Total == 0 ? null : (double)p.Done / p.Total)));
        var context = new ImportanceContext { Model = model, Groups = groups, Data = options.Data, Progress = scoreProgress };
        GroupScores scores;
        try { scores = await options.Criterion.ScoreAsync(context, cancellationToken).ConfigureAwait(false); }
        catch (ArgumentException e) when (NonFiniteWeightsException.Find(model, groups, e) is { } bad) { throw bad; }
        if (scores.ByGroup.Values.Any(s => s.Any(double.IsInfinity)) && NonFiniteWeightsException.Find(model, groups) is { } infinite) throw infinite;
        Lap("score");

        progress?.Report(new PruneProgress(PruneStage.Plan, $"planning for {options.Budget.Describe()}"));
        var plan = BudgetPlanner.Plan(groups, scores, options.Budget, options.Planner, before);
        Lap("plan");
        cancellationToken.ThrowIfCancellationRequested();

        OnnxModel? reference = null;
        if (options.Verify is not null)
        {
            reference = MaskedReference.Build(model, plan.Masks);
            Lap("reference");
        }

        progress?.Report(new PruneProgress(PruneStage.Surgery, $"removing {plan.RemovedUnits} units"));
        cancellationToken.ThrowIfCancellationRequested();
        _surgery(model, plan.Masks, cancellationToken);
        Lap("surgery");

        progress?.Report(new PruneProgress(PruneStage.Count, "counting the pruned model"));
        // The model is pruned (the analysis's shapes no longer hold; its rules do): finish the report even if cancelled now.
        var after = CostModel.Of(model, options.Cost with { AnalysisShapes = null, Rules = analysis.Rules });
        Lap("countAfter");

        VerificationResult? verification = null;
        if (reference is not null)
        {
            // Interface dims cut by the plan (only with AnalysisOptions.AllowInterfaceChange): feed and compare the kept positions.
            var cuts = new Dictionary<string, (int Axis, long[] Kept)>(options.Verify!.Interface, StringComparer.Ordinal);
            foreach (var mask in plan.Masks)
                foreach (var item in mask.Group.Items.OfType<ValueDimItem>().Where(i => (i.Value.IsGraphInput && i.Value.Initializer is null) || i.Value.IsGraphOutput))
                    if (mask.Kept.Count < mask.Group.Size)
                        cuts[item.Value.Name] = (item.Axis, mask.Kept.SelectMany(u => item.Map.Positions(u)).Order().ToArray());
            var verifyOptions = options.Verify with { Interface = cuts };
            progress?.Report(new PruneProgress(PruneStage.Verify, "comparing with the masked reference on ONNX Runtime"));
            verification = EquivalenceCheck.Run(reference, model, verifyOptions, cancellationToken);
            Lap("verify");
        }

        return new PruneReport
        {
            Criterion = scores.Criterion,
            Budget = options.Budget.Describe(),
            RoundTo = options.Planner.RoundTo,
            MinKeep = options.Planner.MinKeep,
            ProtectedNodes = options.Planner.ProtectedNodes.ToArray(),
            Groups = plan.Decisions.Select(d => new PrunedGroupReport(d.Group.Id, d.Group.Kind, d.Group.Root.DisplayName, d.Kept, d.Group.Size, d.Status, d.Reason, d.Group.Key)).ToArray(),
            Before = before.Total,
            After = after.Total,
            Estimated = plan.Estimated,
            MacsComplete = before.MacsComplete,
            MissingDims = before.MissingDims,
            TimingsMs = timings,
            Verification = verification,
        };
    }
}
