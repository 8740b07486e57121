using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Pruning;

/// <summary>What one surgery did.</summary>
/// <param name="ParametersBefore">Floating-point constant elements before.</param>
/// <param name="ParametersAfter">Floating-point constant elements after.</param>
/// <param name="UnitsRemoved">Units removed over all groups.</param>
/// <param name="ConstantsSliced">Constant tensors sliced.</param>
/// <param name="ShapeElementsRewritten">Elements of shape/split constants rewritten.</param>
/// <param name="AttributesRewritten">Attributes rewritten.</param>
/// <param name="ValueShapesUpdated">Declared activation shapes updated.</param>
/// <param name="NodesRemoved">Dead nodes removed afterwards.</param>
public sealed record PruningResult(long ParametersBefore, long ParametersAfter, long UnitsRemoved, int ConstantsSliced,
    int ShapeElementsRewritten, int AttributesRewritten, int ValueShapesUpdated, int NodesRemoved)
{
    /// <summary>Fraction of parameters removed.</summary>
    public double ParameterReduction => ParametersBefore == 0 ? 0 : 1 - (double)ParametersAfter / ParametersBefore;
}

/// <summary>
/// Applies keep-masks to a model in one pass: every coupled constant is sliced once on each affected axis (a constant
/// shared by several items or groups is cut with the union of their removed positions), shape/split constants and
/// attributes are rewritten, declared activation shapes (value_info, and for IR-3 models the initializer inputs)
/// follow, then dead nodes go.
/// </summary>
/// <remarks>
/// Atomic: <see cref="Apply"/> first collects the whole plan and validates it — every mask, every sliced axis, every
/// shape element and attribute, computing their new values — and only then edits the model. Every check that can
/// throw runs before the first edit, so a failed call leaves the model exactly as it was.
/// </remarks>
public static class PruningSurgery
{
    /// <summary>Edits <paramref name="model"/> in place. The masks' groups must come from an analysis of this very model
    /// instance (items reference its values) and the model must not have been edited since.</summary>
    /// <param name="model">The model to edit.</param>
    /// <param name="masks">One keep-mask per group to prune (groups not listed keep everything).</param>
    /// <param name="cancellationToken">Observed while the plan is validated, before any edit; once editing starts the
    /// call runs to the end so that the model is never left half-pruned.</param>
    /// <exception cref="PruningConstraintException">A blocked group, a group given twice, or a rewrite that would leave a
    /// size ≤ 0. The model is unchanged.</exception>
    /// <exception cref="ArgumentException">A group from another model, or an item that does not fit the model (an axis
    /// or element outside its tensor, a missing attribute). The model is unchanged.</exception>
    public static PruningResult Apply(OnnxModel model, IReadOnlyList<KeepMask> masks, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(masks);
        var graph = model.Graph;
        var plan = Validate(graph, masks, cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        long before = Parameters(graph);

        // From here on nothing throws for a valid plan: edit.
        foreach (var (constant, cuts) in plan.Slices)
        {
            var data = constant.Data;
            data = TensorSlicing.Keep(data, cuts);
            constant.Data = data;
        }
        foreach (var (constant, data) in plan.ShapeConstants) constant.Data = data;
        foreach (var (node, name, value) in plan.Attributes)
        {
            if (value is long[] list) node.Attributes.Set(name, list);
            else node.Attributes.Set(name, (long)value);
        }
        foreach (var (value, shape) in plan.ValueShapes) value.Shape = shape;

        int removedNodes = graph.EliminateDeadCode();
        return new PruningResult(before, Parameters(graph), plan.UnitsRemoved, plan.Slices.Count, plan.ShapeElementCount,
            plan.AttributeCount, plan.ValueShapes.Count, removedNodes);
    }

    /// <summary>The validated edits: nothing left to check, only to apply.</summary>
    private sealed record EditPlan(
        List<(ConstantTensor Constant, List<(int Axis, long[] Keep)> Cuts)> Slices,
        List<(ConstantTensor Constant, Tensor Data)> ShapeConstants,
        List<(Node Node, string Name, object Value)> Attributes,
        List<(Value Value, Dim[] Shape)> ValueShapes,
        long UnitsRemoved, int ShapeElementCount, int AttributeCount);

    // Collects the removed positions of every item and checks everything, editing nothing.
    private static EditPlan Validate(Graph.Graph graph, IReadOnlyList<KeepMask> masks, CancellationToken cancellationToken)
    {
        var seen = new HashSet<PruningGroup>(ReferenceEqualityComparer.Instance);
        // Keyed by object first (reference keys: shared generic code, precompiled; tuple keys and LINQ grouping over them
        // would be JIT-compiled in every prune process). Dictionaries enumerate in insertion order (no removals here), so
        // the edits come out in the order the groups list them, as before.
        var removedAt = new Dictionary<Value, Dictionary<int, HashSet<long>>>();
        var valueDims = new HashSet<(Value, int)>();
        var shapeDelta = new Dictionary<Value, Dictionary<int, long>>();
        var attrDelta = new Dictionary<Node, Dictionary<string, Dictionary<int, long>>>();
        int shapeElements = 0, attributeElements = 0;
        long unitsRemoved = 0;
        foreach (var mask in masks)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ArgumentNullException.ThrowIfNull(mask, nameof(masks));
            var g = mask.Group;
            if (!seen.Add(g)) throw new PruningConstraintException($"Group #{g.Id} ({g.Root.DisplayName}) has two keep-masks.");
            if (g.Root.Graph != graph) throw new ArgumentException($"Group #{g.Id} ({g.Root.DisplayName}) belongs to another model.", nameof(masks));
            if (mask.KeepsAll) continue;
            if (g.IsBlocked)
                throw new PruningConstraintException($"Group #{g.Id} ({g.Root.DisplayName}) is blocked: {string.Join("; ", g.BlockedReasons)}");
            var kept = new HashSet<long>(mask.Kept);
            var removed = Enumerable.Range(0, checked((int)g.Size)).Select(i => (long)i).Where(u => !kept.Contains(u)).ToArray();
            unitsRemoved += removed.Length;
            foreach (var item in g.Items)
            {
                switch (item)
                {
                    case ConstantSliceItem s:
                        Remove(removedAt, s.Value, s.Axis, s.Map, removed);
                        break;
                    case ValueDimItem d:
                        Remove(removedAt, d.Value, d.Axis, d.Map, removed);
                        valueDims.Add((d.Value, d.Axis));
                        break;
                    case ShapeElementItem e:
                        shapeElements += Add(Inner(shapeDelta, e.Constant), e.Index, removed.Length * e.Factor);
                        break;
                    case AttributeItem a:
                        attributeElements += Add(Inner(Inner(attrDelta, a.Owner), a.Name), a.Element ?? -1, removed.Length * a.Factor);
                        break;
                    default:
                        throw new ArgumentException($"Group #{g.Id}: unknown item type {item.GetType().Name}.", nameof(masks));
                }
            }
        }

        // Constants: every affected axis of a constant, checked against its header (no decoding).
        var slices = new List<(ConstantTensor, List<(int, long[])>)>();
        foreach (var (value, byAxis) in removedAt)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var axes = new List<int>(byAxis.Count);
            foreach (var axis in byAxis.Keys) if (!valueDims.Contains((value, axis))) axes.Add(axis);
            if (axes.Count == 0) continue;
            axes.Sort();
            var constant = value.Constant ?? throw new ArgumentException($"'{value.Name}' is not a constant.", nameof(masks));
            var shape = constant.Shape;
            var cuts = new List<(int, long[])>();
            foreach (var axis in axes)
            {
                var removed = byAxis[axis];
                if (removed.Count == 0) continue;
                if (axis < 0 || axis >= shape.Count)
                    throw new ArgumentException($"Axis {axis} is outside constant '{constant.Name}' of rank {shape.Count}.", nameof(masks));
                long min = long.MaxValue, max = long.MinValue;
                foreach (var p in removed) { min = Math.Min(min, p); max = Math.Max(max, p); }
                if (min < 0 || max >= shape[axis])
                    throw new ArgumentException($"Position {(min < 0 ? min : max)} is outside axis {axis} of constant '{constant.Name}' (length {shape[axis]}).", nameof(masks));
                var keep = Enumerable.Range(0, checked((int)shape[axis])).Select(i => (long)i).Where(p => !removed.Contains(p)).ToArray();
                if (keep.Length == 0) throw new PruningConstraintException($"Pruning would remove every position of axis {axis} of '{constant.Name}'.");
                cuts.Add((axis, keep));
            }
            if (cuts.Count > 0) slices.Add((constant, cuts));
        }

        var shapeConstants = new List<(ConstantTensor, Tensor)>();
        foreach (var (shapeValue, byIndex) in shapeDelta)
        {
            var constant = shapeValue.Constant ?? throw new ArgumentException($"Shape value '{shapeValue.Name}' is not a constant.", nameof(masks));
            if (constant.ElementType is not (ElementType.Int64 or ElementType.Int32))
                throw new ArgumentException($"Shape constant '{constant.Name}' is {constant.ElementType}, not an integer tensor.", nameof(masks));
            var values = constant.Data.ToInt64Array();
            foreach (var (index, delta) in byIndex)
            {
                if (index < 0 || index >= values.Length)
                    throw new ArgumentException($"Element {index} is outside shape constant '{constant.Name}' of {values.Length} elements.", nameof(masks));
                values[index] -= delta;
                if (values[index] <= 0)
                    throw new PruningConstraintException($"Shape constant '{constant.Name}'[{index}] would become {values[index]}.");
            }
            var dims = constant.Shape.ToArray();
            Tensor data;
            if (constant.ElementType == ElementType.Int32)
            {
                var narrow = new int[values.Length];
                for (int i = 0; i < values.Length; i++)
                    narrow[i] = values[i] <= int.MaxValue ? (int)values[i]
                        : throw new PruningConstraintException($"Shape constant '{constant.Name}'[{i}] would become {values[i]}, beyond int32.");
                data = Tensor.FromArray<int>(narrow, dims);
            }
            else data = Tensor.FromArray<long>(values, dims);
            shapeConstants.Add((constant, data));
        }

        var attributes = new List<(Node, string, object)>();
        foreach (var (node, byName) in attrDelta)
        foreach (var (name, byElement) in byName)
        {
            long[]? list = null;
            foreach (var (element, delta) in byElement)
            {
                if (element < 0)
                {
                    long v = node.Attributes.GetInt(name, 1) - delta;
                    if (v <= 0) throw new PruningConstraintException($"Attribute {name} of node {node.DisplayName} would become {v}.");
                    attributes.Add((node, name, v));
                    continue;
                }
                list ??= node.Attributes.GetInts(name) ?? throw new ArgumentException($"Node {node.DisplayName} has no integer-list attribute {name}.", nameof(masks));
                if (element >= list.Length)
                    throw new ArgumentException($"Element {element} is outside attribute {name} of node {node.DisplayName} ({list.Length} elements).", nameof(masks));
                list[element] -= delta;
                if (list[element] <= 0) throw new PruningConstraintException($"Attribute {name}[{element}] of node {node.DisplayName} would become {list[element]}.");
            }
            if (list is not null) attributes.Add((node, name, list));
        }

        var valueShapes = new List<(Value, Dim[])>();
        foreach (var key in valueDims)
        {
            var (value, axis) = key;
            if (value.Shape is not { } shape || axis >= shape.Count || shape[axis].Value is not long size) continue;
            var dims = shape.ToArray();
            dims[axis] = new Dim(size - removedAt[value][axis].Count);
            valueShapes.Add((value, dims));
        }
        return new EditPlan(slices, shapeConstants, attributes, valueShapes, unitsRemoved, shapeElements, attributeElements);
    }

    // A HashSet, not a SortedSet: only membership, count and bounds are asked (SortedSet<long> would be generic code that
    // a ReadyToRun image cannot hold, JIT-compiled in every prune process; HashSet<long> is compiled for the kept set anyway).
    private static void Remove(Dictionary<Value, Dictionary<int, HashSet<long>>> removedAt, Value value, int axis, IndexMap map, long[] removed)
    {
        var byAxis = Inner(removedAt, value);
        if (!byAxis.TryGetValue(axis, out var set)) byAxis[axis] = set = new HashSet<long>();
        foreach (var u in removed) foreach (var p in map.Positions(u)) set.Add(p);
    }

    private static Dictionary<TInnerKey, TValue> Inner<TKey, TInnerKey, TValue>(Dictionary<TKey, Dictionary<TInnerKey, TValue>> outer, TKey key)
        where TKey : notnull where TInnerKey : notnull
    {
        if (!outer.TryGetValue(key, out var inner)) outer[key] = inner = new Dictionary<TInnerKey, TValue>();
        return inner;
    }

    // Adds delta to an element's total; 1 when the element is new (the plan counts distinct elements).
    private static int Add(Dictionary<int, long> totals, int element, long delta)
    {
        bool added = !totals.TryGetValue(element, out var total);
        totals[element] = total + delta;
        return added ? 1 : 0;
    }

    /// <summary>Floating-point constant elements of a graph.</summary>
    public static long Parameters(Graph.Graph graph) =>
        graph.Constants.Where(c => ElementTypes.IsFloatingPoint(c.ElementType)).Sum(c => c.ElementCount);
}
