using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;

namespace OnnxPrune.Pruning.Importance;

/// <summary>
/// Data-driven: a unit is as important as its activations are large on real inputs (mean |a|). Runs the model on
/// ONNX Runtime over <see cref="ImportanceContext.Data"/>, observing every activation the group couples
/// (<see cref="ValueDimItem"/> items: the conv output, its BN and ReLU outputs, …).
/// </summary>
/// <remarks>
/// For each observed activation A with the group's axis k, position p gets <c>m_p = mean |A[…, p, …]|</c> over all
/// other axes and all batches. A unit's raw score for that activation is the mean of m_p over its positions; each
/// activation's raw scores are divided by their mean over the group's units (so a BN output and a ReLU output weigh
/// the same), and the unit's score is the average over the group's activations, then normalised (default: by the
/// group mean). Groups without an observable activation (no ValueDim item, or only graph outputs) are left out.
/// NaN activations give NaN scores, which <see cref="GroupScores.Set"/> rejects.
/// </remarks>
public sealed class ActivationCriterion : IImportanceCriterion
{
    /// <summary>Creates the criterion.</summary>
    public ActivationCriterion(ScoreNormalization normalization = ScoreNormalization.Mean, SessionSettings? sessionSettings = null)
    {
        Normalization = normalization;
        SessionSettings = sessionSettings ?? new SessionSettings { AllowSpinning = false };
    }

    /// <summary>How scores are made comparable across groups.</summary>
    public ScoreNormalization Normalization { get; }

    /// <summary>Options of the ONNX Runtime session that computes the activations.</summary>
    public SessionSettings SessionSettings { get; }

    /// <inheritdoc/>
    public string Name => "activation";

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The context has no data.</exception>
    public async ValueTask<GroupScores> ScoreAsync(ImportanceContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Data is null) throw new ArgumentException("The activation criterion needs input batches (ImportanceContext.Data).", nameof(context));

        // Which activations to observe, per group.
        var observed = new Dictionary<PruningGroup, List<ValueDimItem>>();
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var g in context.Groups)
        {
            if (g.IsBlocked) continue;
            var items = g.Items.OfType<ValueDimItem>().Where(i => i.Value is { IsGraphOutput: false, IsGraphInput: false, Constant: null }).ToList();
            if (items.Count == 0) continue;
            observed[g] = items;
            foreach (var i in items) names.Add(i.Value.Name);
        }
        var result = new GroupScores(Name);
        if (observed.Count == 0) return result;

        // A copy of the model that also outputs every observed activation.
        var probe = OnnxModel.FromProto(context.Model.ToProto());
        foreach (var name in names)
        {
            var v = probe.Graph.GetValue(name);
            if (!v.HasType || v.ElementType == ElementType.Undefined) v.SetTensorType(ElementType.Float, null);
            probe.Graph.AddOutput(v);
        }
        var sums = new Dictionary<(string Name, int Axis), (double[] Sum, long Count)>();
        using (var session = OrtSessions.Create(probe, SessionSettings))
        {
            var outputNames = names.ToArray();
            int batch = 0;
            var dataInputs = context.Model.Graph.DataInputs.Select(v => v.Name).ToArray();
            await foreach (var dataBatch in context.Data.GetBatchesAsync(cancellationToken).ConfigureAwait(false))
            {
                var feeds = dataBatch.InputsFor(dataInputs);
                cancellationToken.ThrowIfCancellationRequested();
                context.Progress?.Report(new ImportanceProgress(batch++, 0, "activation batches"));
                var outputs = session.RunTensors(feeds, outputNames);
                foreach (var (g, items) in observed)
                    foreach (var item in items)
                        Accumulate(sums, item, outputs[item.Value!.Name]);
            }
        }

        foreach (var (g, items) in observed)
        {
            var total = new double[g.Size];
            int used = 0;
            foreach (var item in items)
            {
                if (!sums.TryGetValue((item.Value.Name, item.Axis), out var acc) || acc.Count == 0) continue;
                var raw = new double[g.Size];
                for (long u = 0; u < g.Size; u++)
                {
                    double s = 0;
                    long n = 0;
                    foreach (var p in item.Map.Positions(u))
                    {
                        if (p < 0 || p >= acc.Sum.Length) throw new OnnxPruneException($"Group item '{item}' maps unit {u} to position {p}, outside the activation's axis of {acc.Sum.Length}.");
                        s += acc.Sum[p] / acc.Count;
                        n++;
                    }
                    raw[u] = n == 0 ? 0 : s / n;
                }
                WeightSlices.Normalize(raw, ScoreNormalization.Mean, 1, rootOfCount: false);
                for (long u = 0; u < g.Size; u++) total[u] += raw[u];
                used++;
            }
            if (used == 0) continue;
            for (long u = 0; u < g.Size; u++) total[u] /= used;
            if (Normalization == ScoreNormalization.Mean) WeightSlices.Normalize(total, ScoreNormalization.Mean, 1, rootOfCount: false);
            result.Set(g, total);
        }
        return result;
    }

    // Adds Σ|a| per position of the item's axis (over every other axis) and the number of elements per position.
    private static void Accumulate(Dictionary<(string, int), (double[] Sum, long Count)> sums, ValueDimItem item, Tensor activation)
    {
        var key = (item.Value.Name, item.Axis);
        if (item.Axis < 0 || item.Axis >= activation.Rank)
            throw new OnnxPruneException($"Group item '{item}': axis {item.Axis} outside the activation's rank {activation.Rank}.");
        long outer = 1, inner = 1, len = activation.Shape[item.Axis];
        for (int d = 0; d < item.Axis; d++) outer *= activation.Shape[d];
        for (int d = item.Axis + 1; d < activation.Rank; d++) inner *= activation.Shape[d];
        if (!sums.TryGetValue(key, out var acc)) acc = (new double[len], 0);
        if (acc.Sum.Length != len) throw new OnnxPruneException($"Activation {item.Value.Name} changed size on axis {item.Axis} between batches.");
        var data = activation.ToFloatArray();
        for (long o = 0; o < outer; o++)
            for (long p = 0; p < len; p++)
                acc.Sum[p] += System.Numerics.Tensors.TensorPrimitives.SumOfMagnitudes<float>(data.AsSpan(checked((int)((o * len + p) * inner)), checked((int)inner)));
        sums[key] = (acc.Sum, acc.Count + outer * inner);
    }
}
