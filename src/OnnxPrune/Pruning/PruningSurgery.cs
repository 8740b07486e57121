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
public static class PruningSurgery
{
    /// <summary>Edits <paramref name="model"/> in place. The masks' groups must come from an analysis of this very model
    /// instance (items reference its values) and the model must not have been edited since.</summary>
    /// <exception cref="PruningConstraintException">A blocked group, a group given twice, or a rewrite that would leave a
    /// size ≤ 0.</exception>
    /// <exception cref="ArgumentException">A group from another model.</exception>
    public static PruningResult Apply(OnnxModel model, IReadOnlyList<KeepMask> masks)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(masks);
        var graph = model.Graph;
        long before = Parameters(graph);
        var seen = new HashSet<PruningGroup>(ReferenceEqualityComparer.Instance);
        var removedAt = new Dictionary<(Value Value, int Axis), SortedSet<long>>();
        var valueDims = new HashSet<(Value, int)>();
        var shapeDelta = new Dictionary<(Value, int), long>();
        var attrDelta = new Dictionary<(Node, string, int), long>();
        long unitsRemoved = 0;
        foreach (var mask in masks)
        {
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
                switch (item.Kind)
                {
                    case GroupItemKind.ConstantSlice:
                    case GroupItemKind.ValueDim:
                        var key = (item.Value!, item.Axis);
                        if (!removedAt.TryGetValue(key, out var set)) removedAt[key] = set = new SortedSet<long>();
                        foreach (var u in removed) foreach (var p in item.Map.Positions(u)) set.Add(p);
                        if (item.Kind == GroupItemKind.ValueDim) valueDims.Add(key);
                        break;
                    case GroupItemKind.ShapeElement:
                        shapeDelta[(item.Value!, item.Axis)] = shapeDelta.GetValueOrDefault((item.Value!, item.Axis)) + removed.Length * item.Factor;
                        break;
                    case GroupItemKind.Attribute:
                        int element = item.AttributeElement ?? -1;
                        var ak = (item.Node!, item.AttributeName!, element);
                        attrDelta[ak] = attrDelta.GetValueOrDefault(ak) + removed.Length * item.Factor;
                        break;
                }
            }
        }

        // Constants: every affected axis of a constant at once.
        int sliced = 0;
        foreach (var byValue in removedAt.Where(p => !valueDims.Contains(p.Key)).GroupBy(p => p.Key.Value))
        {
            var constant = byValue.Key.Constant ?? throw new InvalidOperationException($"'{byValue.Key.Name}' is not a constant.");
            var data = constant.Data;
            var cuts = new List<(int, long[])>();
            foreach (var ((_, axis), removed) in byValue.OrderBy(p => p.Key.Axis))
            {
                var keep = Enumerable.Range(0, checked((int)data.Shape[axis])).Select(i => (long)i).Where(p => !removed.Contains(p)).ToArray();
                if (keep.Length == 0) throw new PruningConstraintException($"Pruning would remove every position of axis {axis} of '{constant.Name}'.");
                cuts.Add((axis, keep));
            }
            constant.Data = TensorSlicing.Keep(data, cuts);
            sliced++;
        }

        foreach (var byValue in shapeDelta.GroupBy(p => p.Key.Item1))
        {
            var constant = byValue.Key.Constant!;
            var values = constant.Data.ToInt64Array();
            foreach (var ((_, index), delta) in byValue)
            {
                values[index] -= delta;
                if (values[index] <= 0)
                    throw new PruningConstraintException($"Shape constant '{constant.Name}'[{index}] would become {values[index]}.");
            }
            var shape = constant.Data.Shape.ToArray();
            constant.Data = constant.ElementType == ElementType.Int32
                ? Tensor.FromArray<int>(values.Select(v => checked((int)v)).ToArray(), shape)
                : Tensor.FromArray<long>(values, shape);
        }

        foreach (var ((node, name, element), delta) in attrDelta)
        {
            if (element < 0)
            {
                long v = node.Attributes.GetInt(name, 1) - delta;
                if (v <= 0) throw new PruningConstraintException($"Attribute {name} of node {node.DisplayName} would become {v}.");
                node.Attributes.Set(name, v);
            }
            else
            {
                var list = node.Attributes.GetInts(name) ?? throw new InvalidOperationException($"Node {node.DisplayName} has no attribute {name}.");
                list[element] -= delta;
                if (list[element] <= 0) throw new PruningConstraintException($"Attribute {name}[{element}] of node {node.DisplayName} would become {list[element]}.");
                node.Attributes.Set(name, list);
            }
        }

        foreach (var key in valueDims)
        {
            var (value, axis) = key;
            if (value.Shape is not { } shape || axis >= shape.Count || shape[axis].Value is not long size) continue;
            var dims = shape.ToArray();
            dims[axis] = new Dim(size - removedAt[key].Count);
            value.Shape = dims;
        }

        int removedNodes = graph.EliminateDeadCode();
        return new PruningResult(before, Parameters(graph), unitsRemoved, sliced, shapeDelta.Count, attrDelta.Count, valueDims.Count, removedNodes);
    }

    /// <summary>Floating-point constant elements of a graph.</summary>
    public static long Parameters(Graph.Graph graph) =>
        graph.Constants.Where(c => ElementTypes.IsFloatingPoint(c.ElementType)).Sum(c => c.ElementCount);
}
