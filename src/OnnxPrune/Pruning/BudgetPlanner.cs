using System.Globalization;
using OnnxPrune.Analysis;
using OnnxPrune.Pruning.Importance;

namespace OnnxPrune.Pruning;

/// <summary>
/// Turns scores and a budget into keep-masks: one <see cref="KeepMask"/> per non-blocked group. The only place
/// that decides how many units each group keeps; criteria only score and surgery only applies.
/// </summary>
/// <remarks>
/// <para><b>Uniform ratio</b>: each prunable group keeps <c>round(size·(1−r))</c> units (its best-scored ones).</para>
/// <para><b>Global ratio and targets</b>: all units of all prunable groups are ranked once by normalised score
/// (ties broken by a seeded hash). Removing a prefix of k units of that ranking, capped per group by its minimum and
/// rounded up to a multiple of <see cref="PlannerOptions.RoundTo"/>, gives a plan whose cost falls monotonically with
/// k; a binary search finds the smallest k that removes the global ratio's unit count, or whose predicted cost
/// (<see cref="CostModel.Estimate"/>) meets the target. By default the ranking is by score alone, not score per unit
/// of cost: score-per-cost strips the most expensive layers first (often the wide late layers a network needs most),
/// and Torch-Pruning's global pruning ranks by score too; <see cref="UnitRanking.ScorePerCost"/> is available for
/// targets. The result removes as little as possible: with round-to 1,
/// undoing any single removal would miss the target (up to round-to − 1 units per group more otherwise).</para>
/// <para>Groups that are blocked, protected, or unscored by the criterion keep every unit.</para>
/// </remarks>
public static class BudgetPlanner
{
    /// <summary>Plans keep-masks.</summary>
    /// <param name="groups">All groups of the analysis.</param>
    /// <param name="scores">Per-unit scores (higher = more important).</param>
    /// <param name="budget">How much to prune.</param>
    /// <param name="options">Constraints; null for defaults.</param>
    /// <param name="cost">The cost model of the unpruned model; required for <see cref="TargetBudget"/>, used for
    /// <see cref="PruningPlan.Estimated"/> otherwise.</param>
    /// <exception cref="PruningConstraintException">A target cannot be met under the constraints (the message gives
    /// the best reachable value).</exception>
    /// <exception cref="ArgumentException">Bad options (round-to &lt; 1, unknown protected node, target without a cost model).</exception>
    public static PruningPlan Plan(IReadOnlyList<PruningGroup> groups, GroupScores scores, PruningBudget budget,
        PlannerOptions? options = null, CostModel? cost = null)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(budget);
        options ??= new PlannerOptions();
        if (options.RoundTo < 1) throw new ArgumentOutOfRangeException(nameof(options), options.RoundTo, "RoundTo must be ≥ 1.");
        if (options.MinKeep < 1) throw new ArgumentOutOfRangeException(nameof(options), options.MinKeep, "MinKeep must be ≥ 1.");
        CheckProtectedNames(groups, options);

        var slots = groups.Select(g => Classify(g, scores, options)).ToArray();
        var eligible = slots.Where(s => s.Status == GroupStatus.Unchanged).ToArray();

        switch (budget)
        {
            case UniformRatioBudget u:
                foreach (var s in eligible) s.Kept = s.SnapNearest(Math.Round(s.Group.Size * (1 - u.Ratio), MidpointRounding.AwayFromZero));
                break;
            case GlobalRatioBudget gr:
            {
                var ranking = Rank(eligible, options.Seed);
                long wanted = (long)Math.Round(gr.Ratio * eligible.Sum(s => s.Group.Size), MidpointRounding.AwayFromZero);
                int k = SmallestPrefix(ranking.Length, i => { ApplyPrefix(eligible, ranking, i); return eligible.Sum(s => s.Group.Size - s.Kept) >= wanted; });
                ApplyPrefix(eligible, ranking, k);
                break;
            }
            case TargetBudget t:
            {
                if (cost is null) throw new ArgumentException($"A {t.Metric} target needs a cost model.", nameof(cost));
                if (t.Metric == CostMetric.Macs && !cost.MacsComplete)
                    throw new ArgumentException(
                        $"MACs of {cost.UncountedNodes.Count} node(s) are unknown (first: {cost.UncountedNodes[0].DisplayName}); " +
                        $"give values for the symbolic input dims{(cost.MissingDims.Count > 0 ? " " + string.Join(", ", cost.MissingDims) : "")} (--dim NAME=VALUE).", nameof(cost));
                var ranking = options.Ranking == UnitRanking.ScorePerCost
                    ? Rank(eligible, options.Seed, s => Math.Max(cost.PerUnit(s.Group).Get(t.Metric), double.Epsilon))
                    : Rank(eligible, options.Seed);
                long Predict(int prefix)
                {
                    ApplyPrefix(eligible, ranking, prefix);
                    return cost.Estimate(eligible.Select(s => (s.Group, s.Kept))).Get(t.Metric);
                }
                long best = Predict(ranking.Length);
                if (best > t.Target)
                    throw new PruningConstraintException(string.Create(CultureInfo.InvariantCulture,
                        $"Target {t.Metric} ≤ {t.Target:N0} is unreachable: the most the constraints allow (min-keep {options.MinKeep}, " +
                        $"round-to {options.RoundTo}, {slots.Count(s => s.Status != GroupStatus.Unchanged)} group(s) blocked, protected or unscored) " +
                        $"is {best:N0} (from {cost.Total.Get(t.Metric):N0})."));
                int k = SmallestPrefix(ranking.Length, i => Predict(i) <= t.Target);
                ApplyPrefix(eligible, ranking, k);
                break;
            }
            default:
                throw new ArgumentException($"Unknown budget {budget.GetType().Name}.", nameof(budget));
        }

        var masks = new List<KeepMask>();
        var decisions = new List<GroupDecision>();
        foreach (var s in slots)
        {
            var status = s.Status == GroupStatus.Unchanged && s.Kept < s.Group.Size ? GroupStatus.Pruned : s.Status;
            decisions.Add(new GroupDecision(s.Group, s.Kept, status, s.Reason));
            if (s.Status == GroupStatus.Blocked) continue;
            masks.Add(s.Kept == s.Group.Size ? KeepMask.All(s.Group) : new KeepMask(s.Group, s.TopUnits(options.Seed)));
        }
        return new PruningPlan
        {
            Masks = masks,
            Decisions = decisions,
            Budget = budget,
            Estimated = cost?.Estimate(slots.Select(s => (s.Group, s.Kept))),
        };
    }

    // Smallest i in [0, n] with ok(i) true, for a monotone ok; n when none is.
    private static int SmallestPrefix(int n, Func<int, bool> ok)
    {
        int lo = 0, hi = n;
        while (lo < hi)
        {
            int mid = lo + (hi - lo) / 2;
            if (ok(mid)) hi = mid; else lo = mid + 1;
        }
        return lo;
    }

    private static void ApplyPrefix(Slot[] eligible, (Slot Slot, long Unit)[] ranking, int prefix)
    {
        foreach (var s in eligible) s.Removed = 0;
        for (int i = 0; i < prefix; i++) ranking[i].Slot.Removed++;
        foreach (var s in eligible) s.Kept = s.SnapUp(s.Group.Size - s.Removed);
    }

    // Units ordered by score (divided by the group's unit cost when given), ties by a seeded hash. Within a group the
    // order is always by score, so a prefix removes each group's least important units.
    private static (Slot Slot, long Unit)[] Rank(Slot[] eligible, long seed, Func<Slot, double>? unitCost = null)
    {
        var divisor = eligible.ToDictionary(s => s, s => unitCost?.Invoke(s) ?? 1.0);
        return eligible.SelectMany(s => Enumerable.Range(0, checked((int)s.Group.Size)).Select(u => (Slot: s, Unit: (long)u)))
            .OrderBy(x => x.Slot.Scores[x.Unit] / divisor[x.Slot])
            .ThenBy(x => TieBreak(seed, x.Slot.Group.Id, x.Unit))
            .ToArray();
    }

    private static ulong TieBreak(long seed, int group, long unit)
    {
        ulong x = (ulong)seed * 0x9E3779B97F4A7C15UL ^ ((ulong)group << 32) ^ (ulong)unit;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    private static Slot Classify(PruningGroup group, GroupScores scores, PlannerOptions options)
    {
        if (group.IsBlocked) return new Slot(group, GroupStatus.Blocked, string.Join("; ", group.BlockedReasons));
        if (IsProtected(group, options, out var why)) return new Slot(group, GroupStatus.Protected, why);
        if (!scores.TryGet(group.Id, out var s)) return new Slot(group, GroupStatus.Unscored, $"criterion '{scores.Criterion}' gave no scores");
        if (s.LongLength != group.Size) throw new ArgumentException($"Group #{group.Id}: {s.Length} scores for {group.Size} units.", nameof(scores));
        long min = Math.Min(group.Size, Math.Max(options.MinKeep, group.MinKeep));
        long smallest = options.RoundTo == 1 ? min : (min + options.RoundTo - 1) / options.RoundTo * options.RoundTo;
        return new Slot(group, GroupStatus.Unchanged, null) { Scores = s, RoundTo = options.RoundTo, Smallest = smallest };
    }

    private static bool IsProtected(PruningGroup group, PlannerOptions options, out string reason)
    {
        reason = "";
        if (options.ProtectedGroups.Contains(group.Id)) { reason = "protected group"; return true; }
        if (options.ProtectedNodes.Count == 0) return false;
        var names = new HashSet<string>(options.ProtectedNodes, StringComparer.Ordinal);
        foreach (var node in TouchedNodes(group))
            if (names.Contains(node)) { reason = $"protected node {node}"; return true; }
        return false;
    }

    // Root, the items' nodes, and for constant items the constant itself and its readers.
    private static IEnumerable<string> TouchedNodes(PruningGroup group)
    {
        yield return group.Root.Name;
        foreach (var item in group.Items)
        {
            if (item.Node is { } n) yield return n.Name;
            if (item is ConstantSliceItem or ShapeElementItem && item.Tensor is { } v)
            {
                yield return v.Name;
                foreach (var c in v.Consumers) yield return c.Name;
            }
        }
    }

    private static void CheckProtectedNames(IReadOnlyList<PruningGroup> groups, PlannerOptions options)
    {
        if (options.ProtectedNodes.Count == 0 || groups.Count == 0) return;
        var graph = groups[0].Root.Graph;
        foreach (var name in options.ProtectedNodes)
            if (graph.FindNode(name) is null && graph.FindValue(name)?.Constant is null)
                throw new ArgumentException($"Protected node '{name}' is neither a node nor a constant of the model.", nameof(options));
    }

    private sealed class Slot(PruningGroup group, GroupStatus status, string? reason)
    {
        public PruningGroup Group { get; } = group;
        public GroupStatus Status { get; } = status;
        public string? Reason { get; } = reason;
        public double[] Scores { get; init; } = Array.Empty<double>();
        public long RoundTo { get; init; } = 1;
        public long Smallest { get; init; } = 1;
        public long Kept { get; set; } = group.Size;
        public long Removed { get; set; }

        // Allowed kept counts: Size, or multiples of RoundTo in [Smallest, Size].
        public long SnapUp(long kept)
        {
            if (kept >= Group.Size || Smallest >= Group.Size) return Group.Size;
            kept = Math.Max(kept, Smallest);
            long up = (kept + RoundTo - 1) / RoundTo * RoundTo;
            return up > Group.Size ? Group.Size : up;
        }

        public long SnapNearest(double kept)
        {
            if (Smallest >= Group.Size) return Group.Size;
            long k = (long)Math.Round(kept / RoundTo, MidpointRounding.AwayFromZero) * RoundTo;
            k = Math.Clamp(k, Smallest, Group.Size);
            return k % RoundTo == 0 ? k : SnapUp(k);
        }

        // The Kept best units, ascending by index.
        public long[] TopUnits(long seed) =>
            Enumerable.Range(0, checked((int)Group.Size)).Select(u => (long)u)
                .OrderByDescending(u => Scores[u]).ThenByDescending(u => TieBreak(seed, Group.Id, u))
                .Take(checked((int)Kept)).Order().ToArray();
    }
}
