using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Analysis;

/// <summary>One coupled edit as reported by <c>onnxprune analyze</c>.</summary>
/// <param name="Kind">ConstantSlice, ValueDim, ShapeElement or Attribute.</param>
/// <param name="Tensor">The constant or activation edited (null for attributes).</param>
/// <param name="Node">The node edited (Attribute) or reading the tensor.</param>
/// <param name="Axis">Axis sliced, or element index of a shape constant.</param>
/// <param name="Map">The index map, as text.</param>
/// <param name="Factor">Multiplier of ShapeElement/Attribute rewrites.</param>
/// <param name="Attribute">Attribute name (with element index for list attributes).</param>
/// <param name="Scored">True for slices holding the units' own weights.</param>
/// <param name="Text">One-line description.</param>
public sealed record ItemReport(string Kind, string? Tensor, string? Node, int Axis, string Map, long Factor, string? Attribute, bool Scored, string Text)
{
    /// <summary>Describes an item.</summary>
    public static ItemReport Of(GroupItem i)
    {
        ArgumentNullException.ThrowIfNull(i);
        var (axis, map, factor, attribute, scored) = i switch
        {
            ConstantSliceItem s => (s.Axis, s.Map.ToString(), 1L, (string?)null, s.IsScored),
            ValueDimItem d => (d.Axis, d.Map.ToString(), 1L, null, false),
            ShapeElementItem e => (e.Index, IdentityMap.Instance.ToString(), e.Factor, null, false),
            AttributeItem a => (0, IdentityMap.Instance.ToString(), a.Factor, a.Text, false),
            _ => throw new ArgumentException($"Unknown group item type {i.GetType().Name}.", nameof(i)),
        };
        return new(i.Kind.ToString(), i.Tensor?.Name, i.Node?.DisplayName, axis, map, factor, attribute, scored, i.ToString());
    }
}

/// <summary>One group as reported by <c>onnxprune analyze</c>.</summary>
/// <param name="Id">Group id (index within this analysis).</param>
/// <param name="Key">The group's stable key (<see cref="PruningGroup.Key"/>): what scores files and masks refer to.</param>
/// <param name="Kind">Unit kind.</param>
/// <param name="Root">Root node name.</param>
/// <param name="RootOp">Root node op type.</param>
/// <param name="Size">Number of units.</param>
/// <param name="Parameters">Parameters (floating-point constant elements) that belong to the group's units.</param>
/// <param name="Items">The coupled edits.</param>
/// <param name="Blocked">Why the group may not be pruned; empty when prunable.</param>
public sealed record GroupReport(int Id, string Key, string Kind, string Root, string RootOp, long Size, long Parameters, IReadOnlyList<ItemReport> Items, IReadOnlyList<string> Blocked);

/// <summary>What <c>onnxprune analyze</c> reports: every group and a summary.</summary>
/// <param name="Fingerprint">The model's fingerprint (<see cref="ModelFingerprint"/>), as 64 lowercase hex digits.</param>
/// <param name="Groups">All groups.</param>
/// <param name="GroupCount">Number of groups.</param>
/// <param name="Prunable">Number of prunable groups.</param>
/// <param name="BlockedCount">Number of blocked groups.</param>
/// <param name="Parameters">Total parameters (floating-point constant elements).</param>
/// <param name="PrunableParameters">Parameters a budget can actually remove: those of the units of prunable groups when
/// every prunable group keeps its minimum (<see cref="PruningGroup.MinKeep"/>) units (<see cref="RemovableParameters"/>);
/// blocked groups and the units every group must keep do not count.</param>
/// <param name="PrunableShare">PrunableParameters / Parameters.</param>
public sealed record AnalysisReport(string Fingerprint, IReadOnlyList<GroupReport> Groups, int GroupCount, int Prunable, int BlockedCount, long Parameters, long PrunableParameters, double PrunableShare)
{
    /// <summary>Builds the report of an analysis of <paramref name="model"/>.</summary>
    public static AnalysisReport Of(OnnxModel model, DependencyAnalysis analysis, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(analysis);
        long total = model.Graph.Constants.Where(c => ElementTypes.IsFloatingPoint(c.ElementType)).Sum(c => c.ElementCount);
        var reports = analysis.Groups.Select(g => new GroupReport(g.Id, g.Key, g.Kind.ToString(), g.Root.DisplayName, g.Root.OpType, g.Size,
            CoveredParameters([g]), g.Items.Select(ItemReport.Of).ToArray(), g.BlockedReasons)).ToArray();
        long prunable = RemovableParameters(analysis.Prunable);
        return new AnalysisReport(ModelFingerprint.Of(model, cancellationToken).ToString(), reports, reports.Length, analysis.Prunable.Count(), analysis.Blocked.Count(), total, prunable,
            total == 0 ? 0 : (double)prunable / total);
    }

    /// <summary>Floating-point constant elements that lie in at least one unit slice of <paramref name="groups"/>.</summary>
    public static long CoveredParameters(IEnumerable<PruningGroup> groups) => Count(groups, g => g.Size);

    /// <summary>Floating-point constant elements a budget can remove from <paramref name="groups"/>: the slices of all but
    /// <see cref="PruningGroup.MinKeep"/> (at least 1) units of each group, the most any plan may remove (a constant cut on
    /// two axes counts once).</summary>
    public static long RemovableParameters(IEnumerable<PruningGroup> groups) => Count(groups, g => Math.Max(0, g.Size - Math.Max(1, g.MinKeep)));

    private static long Count(IEnumerable<PruningGroup> groups, Func<PruningGroup, long> units)
    {
        var covered = new Dictionary<Value, Dictionary<int, HashSet<long>>>();
        foreach (var g in groups)
            foreach (var item in g.ConstantSlices)
            {
                if (item.Value?.Constant is not { } c || !ElementTypes.IsFloatingPoint(c.ElementType)) continue;
                if (!covered.TryGetValue(item.Value, out var axes)) covered[item.Value] = axes = new();
                if (!axes.TryGetValue(item.Axis, out var set)) axes[item.Axis] = set = new();
                long n = units(g);
                for (long u = 0; u < n; u++) foreach (var p in item.Map.Positions(u)) set.Add(p);
            }
        double sum = 0;
        foreach (var (v, axes) in covered)
        {
            var shape = v.Constant!.Shape;
            double untouched = 1;
            foreach (var (axis, set) in axes) untouched *= 1 - (double)set.Count / shape[axis];
            sum += v.Constant.ElementCount * (1 - untouched);
        }
        return (long)Math.Round(sum);
    }
}
