namespace OnnxPrune.Tasks;

/// <summary>How the neighbours' votes are weighted.</summary>
public enum VoteWeighting
{
    /// <summary>w_k = 1/K.</summary>
    Uniform,
    /// <summary>w_k = max(s_k, 0) / Σ_j max(s_j, 0) from the similarities s_k (uniform when all are ≤ 0).</summary>
    Similarity,
}

/// <summary>The combined score mask and how it was made.</summary>
/// <param name="Scores">Per group key, one score in [0, 1] per unit (higher = keep).</param>
/// <param name="Weights">The weight each neighbour's vote carried (same order as the neighbours given).</param>
/// <param name="Epsilon">The tie-break scale ε used (0 when no tie-break was given).</param>
public sealed record ScoreMaskResult(IReadOnlyDictionary<string, float[]> Scores, IReadOnlyList<double> Weights, double Epsilon);

/// <summary>How much a final keep-mask agrees with one neighbour's: intersection over union of the kept units,
/// pooled over the groups both have.</summary>
/// <param name="EntryId">The neighbour's entry id.</param>
/// <param name="IoU">|kept ∩ kept_k| / |kept ∪ kept_k| summed over groups, in [0, 1] (1 when both are empty).</param>
/// <param name="Groups">Number of groups compared.</param>
public sealed record MaskAgreement(string EntryId, double IoU, int Groups);

/// <summary>
/// Meta-Vote / one-shot score mask (Zhao &amp; Long 2023): the keep-masks of the K nearest library tasks vote on every
/// unit of the base model; the planner then keeps the best-voted units within the budget.
/// </summary>
/// <remarks>
/// <para><b>Votes</b>: S(u) = Σ_k w_k · m_k(u), m_k(u) = 1 when neighbour k kept unit u. Weights sum to 1 over the
/// neighbours that have the group (a neighbour without a mask for a group — one recorded before the group existed —
/// abstains there, and the others' weights are renormalised), so S ∈ [0, 1] is the weighted fraction that kept u.</para>
/// <para><b>Tie-break</b>: many units get equal votes (with uniform weights S takes only K+1 values). A data-free
/// score t (e.g. L2 magnitude) decides among them: per group it is min-max normalised to t̂ ∈ [0, 1], and the
/// final score is f(u) = (S(u) + ε·t̂(u)) / (1 + ε), where ε is half the smallest gap between distinct vote values
/// (votes are first rounded to multiples of 1e-6, so closer votes count as tied), capped at 1e-3. Then a vote
/// difference always outweighs any tie-break difference, in every group (the planner ranks all groups at once), and
/// f stays in [0, 1]. Units of a group without a tie-break get t̂ = 0; remaining ties fall to the planner's seeded
/// hash.</para>
/// <para>The result feeds the planner as external scores keyed by group key, with no normalisation (votes are
/// already comparable across groups).</para>
/// </remarks>
public static class ScoreMask
{
    /// <summary>Votes are rounded to multiples of this before ties are decided.</summary>
    public const double VoteResolution = 1e-6;

    /// <summary>Combines the neighbours' keep-masks into per-unit scores.</summary>
    /// <param name="neighbors">The nearest tasks with their similarity (e.g. from <see cref="TaskSimilarity.NearestTasks"/>);
    /// all from one base model.</param>
    /// <param name="weighting">How votes are weighted.</param>
    /// <param name="tieBreak">Optional data-free scores per group key (higher = keep), any scale; an array must have
    /// the group's size.</param>
    /// <param name="baseFingerprint">The fingerprint of the model the scores are for; when given, every neighbour must
    /// have been recorded on it (else all must share the first neighbour's).</param>
    /// <exception cref="ArgumentException">No neighbours; a tie-break of the wrong length or not finite.</exception>
    /// <exception cref="BaseModelMismatchException">A neighbour was recorded on another base model (names both fingerprints).</exception>
    /// <exception cref="TaskLibraryException">Neighbours disagree on a group's size (names both entries).</exception>
    public static ScoreMaskResult Combine(IReadOnlyList<TaskNeighbor> neighbors, VoteWeighting weighting = VoteWeighting.Similarity,
        IReadOnlyDictionary<string, float[]>? tieBreak = null, string? baseFingerprint = null)
    {
        ArgumentNullException.ThrowIfNull(neighbors);
        if (neighbors.Count == 0) throw new ArgumentException("A score mask needs at least one neighbour.", nameof(neighbors));
        var expected = baseFingerprint ?? neighbors[0].Entry.BaseFingerprint;
        foreach (var n in neighbors)
            if (!TaskLibrary.SameFingerprint(expected, n.Entry.BaseFingerprint))
                throw new BaseModelMismatchException(expected, n.Entry.BaseFingerprint, $"entry {n.Entry.ShortId}");

        var weights = Weights(neighbors, weighting);

        // Group sizes, checked across neighbours.
        var sizes = new SortedDictionary<string, (long Size, string From)>(StringComparer.Ordinal);
        foreach (var n in neighbors)
            foreach (var (key, mask) in n.Entry.Masks)
            {
                if (sizes.TryGetValue(key, out var known) && known.Size != mask.Size)
                    throw new TaskLibraryException($"group '{key}' has {known.Size} units in entry {known.From} but {mask.Size} in entry {n.Entry.ShortId}: the entries disagree on the base model's groups.");
                sizes.TryAdd(key, (mask.Size, n.Entry.ShortId));
            }

        var votes = new Dictionary<string, double[]>(StringComparer.Ordinal);
        foreach (var (key, (size, _)) in sizes)
        {
            var s = new double[checked((int)size)];
            double total = 0;
            for (int k = 0; k < neighbors.Count; k++)
            {
                if (!neighbors[k].Entry.Masks.TryGetValue(key, out var mask)) continue;
                total += weights[k];
                foreach (var u in mask.Kept) s[u] += weights[k];
            }
            if (total == 0)
            {
                // Every neighbour with the group has weight 0: they vote uniformly among themselves.
                int voters = 0;
                Array.Clear(s);
                foreach (var n in neighbors)
                {
                    if (!n.Entry.Masks.TryGetValue(key, out var mask)) continue;
                    voters++;
                    foreach (var u in mask.Kept) s[u] += 1;
                }
                total = voters;
            }
            for (int u = 0; u < s.Length; u++) s[u] = Math.Round(s[u] / total / VoteResolution) * VoteResolution;
            votes[key] = s;
        }

        double epsilon = 0;
        if (tieBreak is not null)
        {
            foreach (var (key, t) in tieBreak)
            {
                if (!sizes.TryGetValue(key, out var g)) continue;
                if (t is null || t.Length != g.Size) throw new ArgumentException($"Tie-break scores of group '{key}' have {t?.Length ?? 0} values; the group has {g.Size} units.", nameof(tieBreak));
                if (!Array.TrueForAll(t, float.IsFinite)) throw new ArgumentException($"Tie-break scores of group '{key}' hold NaN or infinity.", nameof(tieBreak));
            }
            var distinct = votes.Values.SelectMany(v => v).Distinct().Order().ToArray();
            double gap = 1;
            for (int i = 1; i < distinct.Length; i++) gap = Math.Min(gap, distinct[i] - distinct[i - 1]);
            epsilon = Math.Min(gap / 2, 1e-3);
        }

        var scores = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var (key, s) in votes)
        {
            var f = new float[s.Length];
            double[]? tn = tieBreak is not null && tieBreak.TryGetValue(key, out var t) ? MinMax(t) : null;
            for (int u = 0; u < s.Length; u++)
                f[u] = (float)((s[u] + epsilon * (tn?[u] ?? 0)) / (1 + epsilon));
            scores[key] = f;
        }
        return new ScoreMaskResult(scores, weights, epsilon);
    }

    /// <summary>The agreement (pooled IoU of kept units) of a final keep-mask with each neighbour's mask.</summary>
    /// <param name="kept">The final kept indices per group key (any order).</param>
    /// <param name="neighbors">The neighbours whose masks to compare with.</param>
    public static IReadOnlyList<MaskAgreement> Agreement(IReadOnlyDictionary<string, IReadOnlyList<long>> kept, IEnumerable<TaskNeighbor> neighbors)
    {
        ArgumentNullException.ThrowIfNull(kept);
        ArgumentNullException.ThrowIfNull(neighbors);
        return neighbors.Select(n => Agreement(kept, n.Entry)).ToList();
    }

    /// <summary>The agreement of a keep-mask with one entry's (also: mask overlap between two entries).</summary>
    public static MaskAgreement Agreement(IReadOnlyDictionary<string, IReadOnlyList<long>> kept, TaskEntry entry)
    {
        ArgumentNullException.ThrowIfNull(kept);
        ArgumentNullException.ThrowIfNull(entry);
        long inter = 0, union = 0;
        int groups = 0;
        foreach (var (key, mine) in kept)
        {
            if (!entry.Masks.TryGetValue(key, out var theirs)) continue;
            groups++;
            var a = mine.ToHashSet();
            int common = theirs.Kept.Count(a.Contains);
            inter += common;
            union += a.Count + theirs.Kept.Count - common;
        }
        return new MaskAgreement(entry.Id, union == 0 ? 1 : (double)inter / union, groups);
    }

    /// <summary>The kept indices of an entry's masks, in the shape <see cref="Agreement(IReadOnlyDictionary{string, IReadOnlyList{long}}, TaskEntry)"/> takes.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<long>> KeptOf(TaskEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return entry.Masks.ToDictionary(kv => kv.Key, kv => kv.Value.Kept, StringComparer.Ordinal);
    }

    private static double[] Weights(IReadOnlyList<TaskNeighbor> neighbors, VoteWeighting weighting)
    {
        int k = neighbors.Count;
        var w = new double[k];
        if (weighting == VoteWeighting.Similarity)
        {
            for (int i = 0; i < k; i++)
            {
                if (!double.IsFinite(neighbors[i].Similarity)) throw new ArgumentException($"Similarity of entry {neighbors[i].Entry.ShortId} is not finite.", nameof(neighbors));
                w[i] = Math.Max(neighbors[i].Similarity, 0);
            }
            double sum = w.Sum();
            if (sum > 0)
            {
                for (int i = 0; i < k; i++) w[i] /= sum;
                return w;
            }
        }
        else if (weighting != VoteWeighting.Uniform) throw new ArgumentOutOfRangeException(nameof(weighting), weighting, "Unknown weighting.");
        Array.Fill(w, 1.0 / k);
        return w;
    }

    private static double[] MinMax(float[] t)
    {
        double min = t.Min(), max = t.Max();
        var r = new double[t.Length];
        if (max > min)
            for (int i = 0; i < t.Length; i++) r[i] = (t[i] - min) / (max - min);
        return r;
    }
}
