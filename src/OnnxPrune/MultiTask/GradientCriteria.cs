using OnnxPrune.Analysis;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Pruning.Importance;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;
using OnnxPrune.Training;

namespace OnnxPrune.MultiTask;

/// <summary>How the gradient-based multi-task criteria sample data.</summary>
public sealed record GradientScoringOptions
{
    /// <summary>Iterations (batches) the scores accumulate over.</summary>
    public int Batches { get; init; } = 8;

    /// <summary>Samples per batch.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Momentum β of the Taylor accumulator: M ← β·M + (1−β)·I (the first iteration sets M = I).</summary>
    public float Momentum { get; init; } = 0.9f;

    /// <summary>Seed of the batch order.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>ONNX Runtime options of the gradient sessions.</summary>
    public SessionSettings? Session { get; init; }
}

/// <summary>
/// Gate-Taylor importance on the summed loss of every head (Garg, Zhang, Guan 2023, single-task criterion): per-unit gates of
/// value 1 on each group's exits (<see cref="GatedModel"/>), I = (g·∂L/∂g)² per batch, accumulated with momentum over the
/// iterations. Works on any model the analyser groups, with one loss per trained output.
/// </summary>
/// <remarks>
/// A unit's gate term is Σ over its gate positions of g·∂L/∂g (all its exits: zeroing them all is what removing it does), then
/// squared. The scores are estimates of the squared loss change, so they are comparable across groups without normalisation.
/// Needs an <see cref="IDataset"/> in <see cref="ImportanceContext.Data"/> holding the target each loss reads. Groups without
/// a gated exit are left out.
/// </remarks>
public sealed class GateTaylorCriterion : IImportanceCriterion
{
    private readonly IReadOnlyList<LossOptions> _losses;
    private readonly GradientScoringOptions _options;

    /// <summary>Creates the criterion for the heads <paramref name="losses"/> (their weights sum the loss).</summary>
    public GateTaylorCriterion(IReadOnlyList<LossOptions> losses, GradientScoringOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(losses);
        if (losses.Count == 0) throw new ArgumentException("At least one loss is needed.", nameof(losses));
        _losses = losses;
        _options = options ?? new GradientScoringOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.Batches, 1);
    }

    /// <inheritdoc/>
    public string Name => "gate-taylor";

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The context has no <see cref="IDataset"/>.</exception>
    public ValueTask<GroupScores> ScoreAsync(ImportanceContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var data = context.Data as IDataset ?? throw new ArgumentException($"The {Name} criterion needs a data set with targets (ImportanceContext.Data as an IDataset).", nameof(context));
        // Gates sit on activations (ValueDim items), which the analyser lists only for values with a declared shape: analyse
        // a copy with every inferred shape declared, and match its groups to the caller's by their root's output.
        var annotated = OnnxModel.FromBytes(context.Model.ToBytes(), context.Model.SourcePath ?? "model");
        ShapeInference.Infer(annotated.Graph, annotated.GetOpset("")).WriteTo(annotated.Graph);
        var analysis = DependencyAnalyzer.Analyze(annotated);
        var byName = analysis.Groups.Where(g => !g.IsBlocked).GroupBy(GroupNames.Of).ToDictionary(x => x.Key, x => x.First(), StringComparer.Ordinal);
        var matched = context.Groups.Where(g => !g.IsBlocked && byName.TryGetValue(GroupNames.Of(g), out var a) && a.Size == g.Size)
            .ToDictionary(g => g, g => byName[GroupNames.Of(g)]);
        var gated = GatedModel.Insert(annotated, matched.Values.ToArray(), analysis.Shapes);
        var result = new GroupScores(Name);
        if (gated.Uses.Count == 0) return ValueTask.FromResult(result);
        var gateNames = gated.Gates.Select(g => g.Name).ToHashSet(StringComparer.Ordinal);
        using var probe = new GradientProbe(gated.Model, _losses, _options.BatchSize, c => gateNames.Contains(c.Name), _options.Session);
        var sampler = new BatchSampler(data, _options.BatchSize, _options.Seed, shuffle: true);
        var groups = matched.Values.Where(g => gated.Uses.ContainsKey(g.Id)).ToArray();
        var momentum = groups.ToDictionary(g => g.Id, g => new double[g.Size]);
        for (int t = 0; t < _options.Batches; t++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            context.Progress?.Report(new ImportanceProgress(t, _options.Batches, "gate gradients"));
            var (grads, _) = probe.Run(sampler.NextBatch(), data.Name);
            foreach (var g in groups)
            {
                var m = momentum[g.Id];
                for (long u = 0; u < g.Size; u++)
                {
                    double term = 0;
                    foreach (var use in gated.Uses[g.Id])
                    {
                        var d = grads[use.Gate.Name].AsSpan<float>();
                        foreach (var p in use.Map.Positions(u)) term += d[checked((int)p)]; // g = 1: g·∂L/∂g = ∂L/∂g
                    }
                    double importance = term * term;
                    m[u] = t == 0 ? importance : _options.Momentum * m[u] + (1 - _options.Momentum) * importance;
                }
            }
        }
        foreach (var (mine, theirs) in matched)
            if (momentum.TryGetValue(theirs.Id, out var m)) result.Set(mine, m);
        return ValueTask.FromResult(result);
    }
}

/// <summary>
/// Gradient-cosine importance (Garg, Zhang, Guan 2023, multi-task criterion): for each unit, the cosine similarity between
/// the gradients of its weights under each task's loss, averaged over the task pairs and the iterations; units whose tasks
/// disagree most (lowest cosine) rank lowest.
/// </summary>
/// <remarks>
/// A unit's weights are every constant slice of its group (conv filters, BN scale and shift, the next layer's input slices).
/// The pairs are those of the tasks whose outputs the group reaches (<see cref="TaskReach"/>). A pair where one task's
/// gradient is zero on the unit counts 0; a unit whose gradient is zero under every task (a dead unit) scores −1, the lowest.
/// Head-only groups (reaching one task) have no pair: they score 1 + s/(1+s) with s the unit's first-order Taylor term of its
/// weights (Σ w·∂L/∂w)² relative to the group's mean, so in one global ranking they rank above every shared unit and among
/// themselves by Taylor; the multi-task pruner prunes them with their task. Needs an <see cref="IDataset"/> holding every target.
/// </remarks>
public sealed class GradientCosineCriterion : IImportanceCriterion
{
    private readonly IReadOnlyList<LossOptions> _losses;
    private readonly GradientScoringOptions _options;

    /// <summary>Creates the criterion for the tasks <paramref name="losses"/> (one per output; weights are irrelevant to a cosine).</summary>
    public GradientCosineCriterion(IReadOnlyList<LossOptions> losses, GradientScoringOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(losses);
        if (losses.Count < 2) throw new ArgumentException("The gradient-cosine criterion needs at least two task losses.", nameof(losses));
        if (losses.Any(l => l.Output is null)) throw new ArgumentException("Every task loss must name its output.", nameof(losses));
        _losses = losses;
        _options = options ?? new GradientScoringOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.Batches, 1);
    }

    /// <inheritdoc/>
    public string Name => "gradient-cosine";

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The context has no <see cref="IDataset"/>.</exception>
    public ValueTask<GroupScores> ScoreAsync(ImportanceContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var data = context.Data as IDataset ?? throw new ArgumentException($"The {Name} criterion needs a data set with targets (ImportanceContext.Data as an IDataset).", nameof(context));
        var groups = context.Groups.Where(g => !g.IsBlocked && g.ConstantSlices.Any(i => i.Value?.Constant?.ElementType == ElementType.Float)).ToArray();
        var result = new GroupScores(Name);
        if (groups.Length == 0) return ValueTask.FromResult(result);
        var outputs = _losses.Select(l => l.Output!).ToArray();
        var reach = TaskReach.OutputsReached(context.Model, groups, outputs);
        var weights = groups.SelectMany(g => g.ConstantSlices).Select(i => i.Value!.Name).ToHashSet(StringComparer.Ordinal);
        int tasks = _losses.Count;
        var probes = new GradientProbe[tasks];
        try
        {
            for (int t = 0; t < tasks; t++)
                probes[t] = new GradientProbe(context.Model, [_losses[t] with { Weight = 1f }], _options.BatchSize, c => weights.Contains(c.Name), _options.Session);
            var constants = context.Model.Graph.Constants.ToDictionary(c => c.Name, c => c.Data.ToFloatArray(), StringComparer.Ordinal);
            var cosSum = groups.ToDictionary(g => g.Id, g => new double[g.Size]);
            var pairCount = groups.ToDictionary(g => g.Id, g => new long[g.Size]);
            var dead = groups.ToDictionary(g => g.Id, g => new bool[g.Size].Select(_ => true).ToArray());
            var taylor = groups.ToDictionary(g => g.Id, g => new double[g.Size]);
            var sampler = new BatchSampler(data, _options.BatchSize, _options.Seed, shuffle: true);
            for (int it = 0; it < _options.Batches; it++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                context.Progress?.Report(new ImportanceProgress(it, _options.Batches, "task gradients"));
                var batch = sampler.NextBatch();
                var grads = new Dictionary<string, float[]>[tasks];
                for (int t = 0; t < tasks; t++)
                    grads[t] = probes[t].Run(batch, data.Name).Gradients.ToDictionary(p => p.Key, p => p.Value.ToFloatArray(), StringComparer.Ordinal);
                foreach (var g in groups)
                {
                    var taskIndex = reach[g.Id].Select(o => Array.IndexOf(outputs, o)).Where(i => i >= 0).ToArray();
                    var items = g.ConstantSlices.Where(i => weights.Contains(i.Value!.Name)).ToArray();
                    for (long u = 0; u < g.Size; u++)
                    {
                        var vectors = taskIndex.Select(t => Slice(items, grads[t], u)).ToArray();
                        var norms = vectors.Select(v => Math.Sqrt(v.Sum(x => x * x))).ToArray();
                        if (norms.Any(n => n > 0)) dead[g.Id][u] = false;
                        if (taskIndex.Length == 1)
                        {
                            var w = Slice(items, constants, u);
                            double first = 0;
                            for (int k = 0; k < w.Length; k++) first += w[k] * vectors[0][k];
                            taylor[g.Id][u] += first * first;
                            continue;
                        }
                        for (int a = 0; a < vectors.Length; a++)
                            for (int b = a + 1; b < vectors.Length; b++)
                            {
                                double dot = 0;
                                for (int k = 0; k < vectors[a].Length; k++) dot += vectors[a][k] * vectors[b][k];
                                cosSum[g.Id][u] += norms[a] > 0 && norms[b] > 0 ? dot / (norms[a] * norms[b]) : 0;
                                pairCount[g.Id][u]++;
                            }
                    }
                }
            }
            foreach (var g in groups)
            {
                var scores = new double[g.Size];
                bool headOnly = reach[g.Id].Count == 1;
                if (reach[g.Id].Count == 0) continue;
                double meanTaylor = taylor[g.Id].Average();
                for (long u = 0; u < g.Size; u++)
                {
                    if (dead[g.Id][u]) { scores[u] = -1; continue; }
                    if (headOnly)
                    {
                        double s = meanTaylor > 0 ? taylor[g.Id][u] / meanTaylor : 0;
                        scores[u] = 1 + s / (1 + s);
                    }
                    else scores[u] = cosSum[g.Id][u] / Math.Max(1, pairCount[g.Id][u]);
                }
                result.Set(g, scores);
            }
        }
        finally
        {
            foreach (var p in probes) p?.Dispose();
        }
        return ValueTask.FromResult(result);
    }

    /// <summary>Concatenates, over the group's constant slices, the elements of unit <paramref name="unit"/> in each tensor.</summary>
    private static double[] Slice(ConstantSliceItem[] items, IReadOnlyDictionary<string, float[]> tensors, long unit)
    {
        var values = new List<double>();
        foreach (var item in items)
        {
            var v = item.Value;
            // A task whose loss does not reach a weight has no gradient for it: zeros.
            var data = tensors.TryGetValue(v.Name, out var found) ? found : null;
            var shape = v.Constant!.Shape;
            long outer = 1, inner = 1, len = shape.Count == 0 ? 1 : shape[item.Axis];
            for (int d = 0; d < item.Axis; d++) outer *= shape[d];
            for (int d = item.Axis + 1; d < shape.Count; d++) inner *= shape[d];
            foreach (var p in item.Map.Positions(unit))
                for (long o = 0; o < outer; o++)
                {
                    long start = (o * len + p) * inner;
                    for (long k = 0; k < inner; k++) values.Add(data is null ? 0 : data[start + k]);
                }
        }
        return values.ToArray();
    }
}
