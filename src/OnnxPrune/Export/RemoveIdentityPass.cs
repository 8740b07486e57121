using OnnxPrune.Graph;
using OnnxPrune.Graph.Passes;
using OnnxPrune.Tensors;

namespace OnnxPrune.Export;

/// <summary>Removes Identity nodes and inference-mode Dropout nodes, wiring their readers to their input.</summary>
/// <remarks>
/// <para><b>Preconditions</b> (per node; a node that does not meet them is kept and named in the notes): a Dropout's mask
/// output is unread and its <c>training_mode</c> input is absent or a constant false; when the node writes a graph
/// output and reads a graph input (or a value read elsewhere), it is kept so that no output is renamed.</para>
/// <para><b>Guarantee</b>: outputs are bit-identical (both ops copy their input at inference); graph inputs and outputs
/// keep their names.</para>
/// </remarks>
public sealed class RemoveIdentityPass : IGraphPass
{
    /// <inheritdoc/>
    public string Name => "remove-identity";

    /// <inheritdoc/>
    public PassResult Run(OnnxModel model, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph;
        var notes = new List<string>();
        int removed = 0;
        foreach (var node in graph.Nodes.Where(n => PassHelpers.Is(n, "Identity", "Dropout")).ToArray())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var x = node.Input(0);
            var y = node.Output(0);
            if (x is null || y is null || node.HasSubgraphs) continue;
            if (node.OpType == "Dropout")
            {
                if (node.Output(1) is { } mask && (mask.Consumers.Count > 0 || mask.IsGraphOutput)) { notes.Add($"kept {node.DisplayName}: its mask is read"); continue; }
                if (node.Input(2) is { } training && !(training.Constant is { ElementType: ElementType.Bool } c && c.Data.RawData.All(b => b == 0)))
                { notes.Add($"kept {node.DisplayName}: training_mode is not a constant false"); continue; }
                if (node.Attributes.GetIntOrNull("is_test") == 0) { notes.Add($"kept {node.DisplayName}: is_test = 0"); continue; }
            }
            if (!PassHelpers.Bypass(graph, node, x, y)) { notes.Add($"kept {node.DisplayName}: it renames graph input or shared value '{x.Name}' to output '{y.Name}'"); continue; }
            removed++;
        }
        if (removed > 0) notes.Insert(0, $"removed {removed} Identity/Dropout nodes");
        return new PassResult(Name, removed, notes);
    }
}
