namespace OnnxPrune.Graph.Passes;

/// <summary>
/// One small graph rewrite (onnx-graphsurgeon style): it edits a model in place and says what it changed.
/// </summary>
/// <remarks>
/// Every implementation documents, in its type's remarks, its <b>preconditions</b> (what the model must satisfy,
/// e.g. "topologically sorted", "opset ≥ 13") and its <b>guarantee</b> (what holds afterwards, e.g. "outputs equal
/// to 1e-6 relative"). A pass that finds its precondition unmet throws <see cref="UnsupportedModelException"/>
/// before editing anything, naming the node and the reason, so a failing pass leaves the model as it was.
/// Passes are stateless: one instance may run on many models, also concurrently.
/// </remarks>
public interface IGraphPass
{
    /// <summary>Short, stable name for reports and logs (e.g. <c>fold-bn</c>).</summary>
    string Name { get; }

    /// <summary>Rewrites <paramref name="model"/> in place.</summary>
    /// <param name="model">The model to edit.</param>
    /// <param name="cancellationToken">Checked between node visits; a cancelled pass may leave the model partly
    /// rewritten only where each step on its own keeps the model valid and equivalent.</param>
    /// <returns>What the pass changed.</returns>
    PassResult Run(OnnxModel model, CancellationToken cancellationToken = default);
}

/// <summary>What one pass run changed.</summary>
/// <param name="Pass">The pass's <see cref="IGraphPass.Name"/>.</param>
/// <param name="Changes">Number of edits (nodes removed, folded, rewritten…; 0 when the model is unchanged).</param>
/// <param name="Notes">Human-readable lines for reports (what was folded into what, what was skipped and why).</param>
public sealed record PassResult(string Pass, int Changes, IReadOnlyList<string> Notes)
{
    /// <summary>A result with no notes.</summary>
    public static PassResult Of(string pass, int changes) => new(pass, changes, Array.Empty<string>());
}
