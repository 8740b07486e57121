namespace OnnxPrune.Graph.Passes;

/// <summary>Removes nodes whose outputs nobody reads and initializers nobody uses (<see cref="Graph.EliminateDeadCode"/>).</summary>
/// <remarks>Preconditions: none. Guarantee: graph inputs and outputs are unchanged; outputs are bit-identical.</remarks>
public sealed class DeadCodeEliminationPass : IGraphPass
{
    /// <inheritdoc/>
    public string Name => "dead-code";

    /// <inheritdoc/>
    public PassResult Run(OnnxModel model, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        cancellationToken.ThrowIfCancellationRequested();
        int before = model.Graph.Initializers.Count;
        int nodes = model.Graph.EliminateDeadCode();
        int inits = before - model.Graph.Initializers.Count;
        return new PassResult(Name, nodes + inits,
            nodes + inits == 0 ? Array.Empty<string>() : new[] { $"removed {nodes} unused nodes and {inits} unused initializers" });
    }
}
