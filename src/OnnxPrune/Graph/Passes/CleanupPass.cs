namespace OnnxPrune.Graph.Passes;

/// <summary>
/// The tidy-up every rewrite ends with (onnx-graphsurgeon's <c>cleanup().toposort()</c>): removes Identity nodes,
/// then dead nodes and unused initializers (<see cref="Graph.EliminateDeadCode"/>), then value_info declarations of
/// values nobody reads (<see cref="Graph.RemoveUnusedValueInfo"/>), and finally orders the nodes topologically
/// (<see cref="Graph.TopologicalSort"/>).
/// </summary>
/// <remarks>
/// <b>Preconditions:</b> the graph has no cycle (else <see cref="UnsupportedModelException"/>, naming a node on it,
/// before anything is edited). <b>Guarantee:</b> graph inputs and outputs (names, order, declared types) are unchanged
/// and every output is bit-identical. An Identity stays where removing it would rename a graph output (its output is
/// a graph output) or where a subgraph reads its output by name; default-domain Identities only.
/// </remarks>
public sealed class CleanupPass : IGraphPass
{
    /// <inheritdoc/>
    public string Name => "cleanup";

    /// <inheritdoc/>
    public PassResult Run(OnnxModel model, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var g = model.Graph;
        if (g.FindCycle() is { } cyclic)
            throw new UnsupportedModelException($"Graph '{g.Name}' has a cycle through {cyclic.OpType} node {cyclic.DisplayName}; cleanup needs an acyclic graph.");
        var notes = new List<string>();
        int identities = 0;
        foreach (var node in g.Nodes.ToArray())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!IsRemovableIdentity(node)) continue;
            g.ReplaceAllUses(node.Output(0)!, node.Input(0)!);
            g.RemoveNode(node);
            identities++;
        }
        if (identities > 0) notes.Add($"removed {identities} Identity nodes");
        int inits = g.Initializers.Count;
        int dead = g.EliminateDeadCode();
        inits -= g.Initializers.Count;
        if (dead + inits > 0) notes.Add($"removed {dead} unused nodes and {inits} unused initializers");
        int valueInfo = g.RemoveUnusedValueInfo();
        if (valueInfo > 0) notes.Add($"removed {valueInfo} unused value_info declarations");
        var before = g.Nodes.ToArray();
        g.TopologicalSort();
        int moved = before.Where((n, i) => g.Nodes[i] != n).Count();
        if (moved > 0) notes.Add($"reordered {moved} nodes topologically");
        return new PassResult(Name, identities + dead + inits + valueInfo + moved, notes);
    }

    private static bool IsRemovableIdentity(Node node) =>
        node is { IsStandard: true, OpType: "Identity", HasSubgraphs: false }
        && node.Input(0) is not null
        && node.Output(0) is { IsGraphOutput: false } y
        && y.Consumers.All(c => !c.ImplicitInputs.Contains(y));
}
