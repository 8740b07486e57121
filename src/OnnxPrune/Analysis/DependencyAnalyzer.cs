using OnnxPrune.Analysis.Rules;
using OnnxPrune.Graph;

namespace OnnxPrune.Analysis;

/// <summary>The result of dependency analysis: immutable groups plus the shape facts they were built from.</summary>
/// <param name="Groups">Every group, prunable or blocked, ordered by root node in graph order.</param>
/// <param name="Shapes">Static shape facts.</param>
public sealed record DependencyAnalysis(IReadOnlyList<PruningGroup> Groups, ShapeInfo Shapes)
{
    /// <summary>Groups that may be pruned.</summary>
    public IEnumerable<PruningGroup> Prunable => Groups.Where(g => !g.IsBlocked);

    /// <summary>Groups that may not be pruned.</summary>
    public IEnumerable<PruningGroup> Blocked => Groups.Where(g => g.IsBlocked);

    /// <summary>The op rules the analysis used (the cost model counts with the same ones).</summary>
    public OpRuleRegistry Rules { get; init; } = OpRuleRegistry.Default;
}

/// <summary>Options of <see cref="DependencyAnalyzer"/>.</summary>
public sealed record AnalysisOptions
{
    /// <summary>Let groups change the model's interface: dimensions of graph inputs and outputs (a KV cache's head
    /// count, say) no longer block, and pruning rewrites their declared shapes. Whatever feeds or reads the model (the
    /// runtime that keeps the cache) must then use the new sizes. Off by default.</summary>
    public bool AllowInterfaceChange { get; init; }
}

/// <summary>
/// Finds every prunable unit of a model and groups them. Each channel-carrying dimension (value, axis) with a known
/// size contributes one union-find element per position; op rules (<see cref="OpRule.Couple"/>) unite positions that
/// must go together (identity, Concat/Split offsets, Flatten/Reshape blocks, heads). A connected component holding a
/// position of a source dimension (Conv/ConvTranspose output channels, Gemm/MatMul output features) is one unit;
/// units touching the same dimensions with the same multiplicities form one <see cref="PruningGroup"/>, whose items
/// are read off the component: constant axes (ConstantSlice), declared activation shapes (ValueDim), target-shape and
/// split constants (ShapeElement) and attributes (depthwise `group`).
/// </summary>
/// <remarks>Safety net: a group is blocked when it reaches a graph input or output, an op without a rule, a node
/// whose rule neither couples nor acknowledges the dimension, or an axis a rule declares opaque (mixing ops,
/// unmappable reshapes); the reasons name the node and value.</remarks>
public sealed class DependencyAnalyzer
{
    private readonly OpRuleRegistry _rules;

    /// <summary>Creates an analyser over a rule registry (default: <see cref="OpRuleRegistry.Default"/>).</summary>
    public DependencyAnalyzer(OpRuleRegistry? rules = null) => _rules = rules ?? OpRuleRegistry.Default;

    /// <summary>Creates an analyser over a rule registry with options.</summary>
    public DependencyAnalyzer(OpRuleRegistry? rules, AnalysisOptions? options) : this(rules) => _options = options ?? new AnalysisOptions();

    private readonly AnalysisOptions _options = new();

    /// <summary>Analyses a model (not modified) with options (e.g. <see cref="AnalysisOptions.AllowInterfaceChange"/>).</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static DependencyAnalysis Analyze(OnnxModel model, AnalysisOptions? options, CancellationToken cancellationToken = default) =>
        new DependencyAnalyzer(null, options).Run(model, cancellationToken);

    /// <summary>Analyses a model (not modified).</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static DependencyAnalysis Analyze(OnnxModel model, CancellationToken cancellationToken = default) => new DependencyAnalyzer().Run(model, cancellationToken);

    /// <summary>Analyses a model (not modified).</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public DependencyAnalysis Run(OnnxModel model, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph;
        long opset = model.GetOpset("");
        var shapes = ShapeInference.Infer(graph, opset, _rules);
        var order = GraphOrder.Topological(graph);
        var units = new UnitGraph();
        var acks = new HashSet<(Node, Value, int)>();
        var ackAll = new HashSet<(Node, Value)>();
        var opaqueValues = new Dictionary<Value, List<string>>();
        foreach (var node in order)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (node.ConstantOutput is not null) continue;
            var rule = _rules.Find(node);
            if (rule is null) continue;
            var ctx = new CouplingContext(node, opset == 0 ? long.MaxValue : opset, units, shapes, acks, ackAll, opaqueValues);
            try { rule.Couple(ctx); }
            catch (Exception e) when (e is OnnxPruneException or ArgumentException or InvalidOperationException or IndexOutOfRangeException or OverflowException or NotSupportedException)
            {
                foreach (var v in node.Inputs.Concat(node.Outputs))
                    if (v is not null) ctx.OpaqueValue(v, $"{node.OpType} node {node.DisplayName}: cannot analyse ({e.Message})");
            }
        }
        cancellationToken.ThrowIfCancellationRequested();
        CheckAcknowledged(units, acks, ackAll, opaqueValues);
        var topo = new Dictionary<Node, int>();
        for (int i = 0; i < order.Count; i++) topo[order[i]] = i;
        return new DependencyAnalysis(BuildGroups(units, topo), shapes) { Rules = _rules };
    }

    // Every registered dimension must be handled by its producer and every consumer; graph inputs/outputs are fixed.
    private void CheckAcknowledged(UnitGraph units, HashSet<(Node, Value, int)> acks, HashSet<(Node, Value)> ackAll, Dictionary<Value, List<string>> opaqueValues)
    {
        foreach (var d in units.Dims)
        {
            var v = d.Value;
            var reasons = d.OpaqueReasons;
            if (!_options.AllowInterfaceChange)
            {
                if (v.IsGraphInput && v.Initializer is null) Add(reasons, $"'{v.Name}' is a graph input (the model's interface)");
                if (v.IsGraphOutput) Add(reasons, $"'{v.Name}' is a graph output (the model's interface)");
            }
            else if ((v.IsGraphInput && v.Initializer is null || v.IsGraphOutput) && !(v.HasType && v.Shape is { } s && d.Axis < s.Count && s[d.Axis].IsKnown))
                Add(reasons, $"'{v.Name}' is a graph {(v.IsGraphOutput ? "output" : "input")} without a declared size on axis {d.Axis}");
            if (opaqueValues.TryGetValue(v, out var vr)) foreach (var r in vr) Add(reasons, r);
            if (v.Constant is null && v.Producer is { } p && !acks.Contains((p, v, d.Axis)) && !ackAll.Contains((p, v)))
                Add(reasons, Unmapped(p, v, d.Axis, "writes"));
            foreach (var c in v.Consumers.Distinct())
            {
                if (c.ImplicitInputs.Contains(v)) { Add(reasons, $"{c.OpType} node {c.DisplayName} reads '{v.Name}' inside a subgraph"); continue; }
                if (!acks.Contains((c, v, d.Axis)) && !ackAll.Contains((c, v))) Add(reasons, Unmapped(c, v, d.Axis, "reads"));
            }
        }
    }

    private string Unmapped(Node n, Value v, int axis, string verb) => _rules.Find(n) is null
        ? $"{(n.IsStandard ? "" : n.Domain + ".")}{n.OpType} node {n.DisplayName} {verb} '{v.Name}' and is not supported"
        : $"{n.OpType} node {n.DisplayName} {verb} axis {axis} of '{v.Name}' but does not map it";

    private static void Add(List<string> list, string reason)
    {
        if (!list.Contains(reason)) list.Add(reason);
    }

    // A unit: the positions it owns in each dim, by dim id (ascending). A plain Dictionary plus the id list, not a
    // SortedDictionary: BuildGroups visits dims in id order, and SortedDictionary<int, …> is generic code that a
    // ReadyToRun image cannot hold (it would be JIT-compiled in every onnxprune process).
    private sealed class Component
    {
        private readonly Dictionary<int, List<long>> _positions = new();
        private readonly List<int> _ids = new();

        public IReadOnlyList<int> DimIds => _ids;

        public List<long> this[int dimId] => _positions[dimId];

        public List<long> For(int dimId)
        {
            if (_positions.TryGetValue(dimId, out var list)) return list;
            if (_ids.Count > 0 && dimId < _ids[^1]) throw new InvalidOperationException("dims must be visited in id order");
            _ids.Add(dimId);
            return _positions[dimId] = new List<long>();
        }
    }

    private static List<PruningGroup> BuildGroups(UnitGraph units, Dictionary<Node, int> topo)
    {
        var dims = units.Dims;
        var components = new Dictionary<int, Component>();
        var sourceRoots = new HashSet<int>();
        foreach (var d in dims)
        {
            for (int i = 0; i < d.Size; i++)
            {
                int root = units.Root(d.Base + i);
                if (!components.TryGetValue(root, out var c)) components[root] = c = new Component();
                c.For(d.Id).Add(i);
                if (d.SourceKind is not null) sourceRoots.Add(root);
            }
        }
        // Units with the same footprint (dims and multiplicities) form one group.
        var byFootprint = new Dictionary<string, List<Component>>(StringComparer.Ordinal);
        foreach (var root in sourceRoots.Order())
        {
            var c = components[root];
            var key = string.Join(";", c.DimIds.Select(id => $"{id}x{c[id].Count}{RegionTags(dims[id], c[id])}"));
            if (!byFootprint.TryGetValue(key, out var list)) byFootprint[key] = list = new();
            list.Add(c);
        }
        int Order(DimNode d) => d.Value.Producer is { } p && topo.TryGetValue(p, out var t) ? t : -1;
        var drafts = new List<(DimNode Root, List<Component> Units, List<DimNode> Dims)>();
        foreach (var list in byFootprint.Values)
        {
            var groupDims = list[0].DimIds.Select(id => dims[id]).OrderBy(Order).ThenBy(d => d.Id).ToList();
            var root = groupDims.Where(d => d.SourceKind is not null).OrderBy(d => d.SourceNode is { } n && topo.TryGetValue(n, out var t) ? t : int.MaxValue).ThenBy(d => d.Id).First();
            var ordered = list.OrderBy(c => c[root.Id].Min()).ToList();
            drafts.Add((root, ordered, groupDims));
        }
        drafts.Sort((a, b) =>
        {
            int ta = a.Root.SourceNode is { } na && topo.TryGetValue(na, out var x) ? x : int.MaxValue;
            int tb = b.Root.SourceNode is { } nb && topo.TryGetValue(nb, out var y) ? y : int.MaxValue;
            return ta != tb ? ta.CompareTo(tb) : a.Units[0][a.Root.Id].Min().CompareTo(b.Units[0][b.Root.Id].Min());
        });

        var groups = new List<PruningGroup>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        var shapeUses = new Dictionary<(Value, int), List<(int Group, Node Owner)>>();
        foreach (var (root, unitList, groupDims) in drafts)
        {
            int id = groups.Count;
            var items = new List<GroupItem>();
            var activations = new List<ValueDimItem>();
            var reasons = new List<string>();
            var seenShape = new HashSet<(Value, int)>();
            var seenAttr = new HashSet<(Node, string, int)>();
            // Depthwise convs carry their input's units through; only other sources make a residual stream.
            var depthwise = groupDims.SelectMany(d => d.Attributes.Select(a => a.Node)).ToHashSet();
            int sources = groupDims.Where(d => d.SourceKind is not null && !depthwise.Contains(d.SourceNode!)).Select(d => d.SourceNode).Distinct().Count();
            foreach (var d in groupDims)
            {
                foreach (var r in d.OpaqueReasons) Add(reasons, r);
                var perUnit = unitList.Select(c => (IReadOnlyList<long>)c[d.Id]).ToList();
                var map = MapOf(perUnit, d.Size);
                long k = perUnit[0].Count;
                var v = d.Value;
                if (v.Constant is not null)
                    items.Add(new ConstantSliceItem { Value = v, Reader = v.Consumers.FirstOrDefault(), Axis = d.Axis, Map = map, IsScored = d.Scored });
                else
                {
                    var dim = new ValueDimItem { Value = v, Axis = d.Axis, Map = map };
                    activations.Add(dim);
                    if (v.HasType && v.Shape is { } s && d.Axis < s.Count) items.Add(dim);
                }
                var regions = d.Regions.Where(r => perUnit[0].All(p => p >= r.Start && p < r.End)).ToList();
                foreach (var (constant, index, owner) in d.ShapeElements.Concat(regions.SelectMany(r => r.ShapeElements)))
                {
                    if (!shapeUses.TryGetValue((constant, index), out var uses)) shapeUses[(constant, index)] = uses = new();
                    uses.Add((id, owner));
                    if (seenShape.Add((constant, index)))
                        items.Add(new ShapeElementItem { Constant = constant, Owner = owner, Index = index, Factor = k });
                    if (constant.IsGraphOutput) Add(reasons, $"shape constant '{constant.Name}' is a graph output");
                }
                foreach (var (node, name, element) in d.Attributes.Concat(regions.SelectMany(r => r.Attributes)))
                    if (seenAttr.Add((node, name, element)))
                        items.Add(new AttributeItem { Owner = node, Name = name, Element = element >= 0 ? element : null, Factor = k });
            }
            // Every use of a rewritten shape constant must end, through shape-only ops, at a node of this group that rewrites it.
            var owners = groupDims.SelectMany(d => d.ShapeElements.Concat(d.Regions.SelectMany(r => r.ShapeElements))).Select(e => e.Owner).ToHashSet();
            foreach (var item in items.OfType<ShapeElementItem>())
                if (StrayUse(item.Constant, owners) is { } stray)
                    Add(reasons, $"shape constant '{item.Constant.Name}' is also read by {stray.OpType} node {stray.DisplayName}");
            // Detection/segmentation heads: conv channels that reach a graph output through a Reshape are predictions laid out
            // as (anchors, classes, box) or similar; their number is fixed by the task, not by capacity.
            if (root.SourceNode is { OpType: "Conv" or "ConvTranspose" } && groupDims.FirstOrDefault(d => d.Value.IsGraphOutput) is { } outDim &&
                groupDims.FirstOrDefault(d => d.Value.Producer is { OpType: "Reshape" }) is { } reshaped)
                Add(reasons, $"detection/segmentation head: its channels are predictions reshaped by {reshaped.Value.Producer!.OpType} node " +
                             $"{reshaped.Value.Producer.DisplayName} into graph output '{outDim.Value.Name}' (e.g. anchors × (classes + box)); their number is fixed by the task");
            var rootNode = root.SourceNode!;
            long rootPerUnit = unitList[0][root.Id].Count;
            var kind = rootPerUnit > 1 && root.SourceKind == GroupKind.Features ? GroupKind.AttentionHeads
                : sources > 1 && groupDims.Any(d => d.Join) ? GroupKind.ResidualStream
                : root.SourceKind == GroupKind.Features && IsTokenMlp(root) ? GroupKind.MlpHidden
                : root.SourceKind!.Value;
            var key = KeyOf(rootNode, root, items, unitList);
            if (!keys.Add(key) && !keys.Add(key += $"~{root.Value.Name}:{root.Axis}")) keys.Add(key += $"#{id}");
            groups.Add(new PruningGroup { Id = id, Key = key, Kind = kind, Root = rootNode, Size = unitList.Count, Items = items, ActivationDims = activations, BlockedReasons = reasons });
        }
        // A shape constant element rewritten by different groups through different nodes cannot satisfy both.
        foreach (var ((constant, index), uses) in shapeUses)
        {
            if (uses.Select(u => u.Group).Distinct().Count() < 2 || uses.Select(u => u.Owner).Distinct().Count() < 2) continue;
            foreach (var g in uses.Select(u => u.Group).Distinct())
            {
                var reason = $"shape constant '{constant.Name}'[{index}] is shared by nodes of different groups";
                if (!groups[g].BlockedReasons.Contains(reason))
                    groups[g] = groups[g] with { BlockedReasons = groups[g].BlockedReasons.Append(reason).ToArray() };
            }
        }
        return groups;
    }

    /// <summary>
    /// The group's stable key: <c>NAME:AXIS</c>, or <c>NAME:AXIS[START:END]</c> when the group owns only part of the
    /// root axis (regions carved by Split/Slice/Pad): NAME is the root node's first scored weight input sliced by the
    /// group and AXIS the axis it is sliced on (a root without a constant weight: its output value and axis); START and
    /// END bound the root-axis positions the group's units own. Value names survive save/load, convert and the
    /// stripping of node names; disjoint groups of one root own disjoint positions, so their START differs.
    /// </summary>
    private static string KeyOf(Node rootNode, DimNode root, List<GroupItem> items, List<Component> units)
    {
        var positions = units.SelectMany(c => c[root.Id]).ToList();
        string region = positions.Count == root.Size ? "" : $"[{positions.Min()}:{positions.Max() + 1}]";
        var slices = items.OfType<ConstantSliceItem>().Where(i => i.IsScored).ToList();
        foreach (var input in rootNode.Inputs)
            if (input is not null && slices.FirstOrDefault(i => i.Value == input) is { } weight)
                return $"{weight.Value.Name}:{weight.Axis}{region}";
        return $"{root.Value.Name}:{root.Axis}{region}";
    }

    // A use of a rewritten shape constant outside this group's owners, looking through reorder-only ops and Concat
    // (shape tensors are assembled by Concat); a graph output reached that way is a stray use too.
    private static Node? StrayUse(Value v, HashSet<Node> owners)
    {
        foreach (var use in ReorderOnly.UsesThrough(v, (n, i) => !owners.Contains(n) && (n.OpType == "Concat" || ReorderOnly.PassesThrough(n, i))))
        {
            if (use.Consumer is null) return use.Value.Producer;
            if (!owners.Contains(use.Consumer)) return use.Consumer;
        }
        return null;
    }

    private static string RegionTags(DimNode d, List<long> positions) =>
        d.Regions.Count == 0 ? "" : string.Concat(d.Regions.Where(r => positions.All(p => p >= r.Start && p < r.End)).Select(r => "@" + r.Tag));

    private static bool IsTokenMlp(DimNode root) => root.Axis >= 2;

    /// <summary>The simplest index map that places each unit's positions (all units own the same count).</summary>
    internal static IndexMap MapOf(IReadOnlyList<IReadOnlyList<long>> perUnit, long axisSize)
    {
        int n = perUnit.Count;
        long k = perUnit[0].Count;
        var sorted = perUnit.Select(p => p.Order().ToArray()).ToArray();
        if (sorted.Any(p => p.Length != k)) throw new InvalidOperationException("units own different numbers of positions");
        if (k == 1)
        {
            long off = sorted[0][0];
            if (sorted.Select((p, u) => p[0] == off + u).All(x => x))
                return off == 0 && n == axisSize ? IdentityMap.Instance : new OffsetMap(off, n);
        }
        else
        {
            long start = sorted[0][0];
            bool block = true;
            for (int u = 0; u < n && block; u++)
                for (int j = 0; j < k && block; j++) block = sorted[u][j] == start + u * k + j;
            if (block)
                return start == 0 && n * k == axisSize ? new BlockMap(k) : new ComposedMap(new BlockMap(k), new OffsetMap(start, n * k));
            bool interleave = n * k == axisSize;
            for (int u = 0; u < n && interleave; u++)
                for (int j = 0; j < k && interleave; j++) interleave = sorted[u][j] == u + (long)j * n;
            if (interleave) return new InterleaveMap(n, k);
        }
        return new ExplicitMap(sorted);
    }
}
