using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Graph.Passes;
using OnnxPrune.Tensors;

namespace OnnxPrune.Export;

/// <summary>
/// Constant-folds shape sub-graphs: every node whose integer outputs the shape engine (<see cref="ShapeInference"/>) knows
/// element by element — <c>Shape</c> of static dims, <c>Gather</c>/<c>Concat</c>/<c>Unsqueeze</c>/<c>Slice</c>/arithmetic
/// of constants — is replaced by an int64/int32 initializer. Nodes left without readers are removed.
/// </summary>
/// <remarks>
/// <para><b>Preconditions</b>: none; nodes with subgraphs, non-standard domains, float outputs or outputs that are graph
/// outputs are never folded.</para>
/// <para><b>Guarantee</b>: outputs are bit-identical for every input the declared input shapes admit (only values
/// that do not depend on symbolic dims are folded); graph inputs and outputs are unchanged.</para>
/// </remarks>
public sealed class FoldShapeConstantsPass : IGraphPass
{
    /// <inheritdoc/>
    public string Name => "fold-shapes";

    /// <inheritdoc/>
    public PassResult Run(OnnxModel model, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph;
        var info = ShapeInference.Infer(graph, model.GetOpset(""));
        var replacements = new List<(Value Old, Tensor Data)>();
        foreach (var node in graph.Nodes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!node.IsStandard || node.HasSubgraphs || node.OpType == "Constant" || node.Outputs.Count == 0) continue;
            var folded = new List<(Value, Tensor)>();
            foreach (var o in node.Outputs)
            {
                if (o is null) continue;
                if (o.IsGraphOutput || Known(info[o]) is not { } data) { folded.Clear(); break; }
                folded.Add((o, data));
            }
            replacements.AddRange(folded);
        }
        // Fold only the frontier: outputs someone reads; upstream nodes become dead and are removed below.
        int changes = 0;
        var notes = new List<string>();
        foreach (var (old, data) in replacements)
        {
            if (old.Consumers.Count == 0) continue;
            var init = PassHelpers.AddInitializer(graph, old.Name, data);
            graph.ReplaceAllUses(old, init);
            notes.Add($"{old.Producer?.DisplayName} ({old.Producer?.OpType}) → constant {Tensor.FormatShape(data.Dims)} [{string.Join(",", data.ToInt64Array().Take(8))}]");
            changes++;
        }
        int dead = changes > 0 ? graph.EliminateDeadCode() : 0;
        if (dead > 0) notes.Add($"removed {dead} nodes left without readers");
        return new PassResult(Name, changes, notes);
    }

    private static Tensor? Known(TensorInfo info)
    {
        if (info.ElementType is not (ElementType.Int64 or ElementType.Int32) || info.Shape is null || info.Shape.Any(d => !d.IsKnown)) return null;
        if (info.KnownValues is not { } values) return null;
        var shape = info.Shape.Select(d => d.Value!.Value).ToArray();
        if (Tensor.CountElements(shape) != values.Length) return null;
        return info.ElementType == ElementType.Int64
            ? Tensor.FromArray<long>(values, shape)
            : Tensor.FromArray<int>(values.Select(v => (int)v).ToArray(), shape);
    }
}
