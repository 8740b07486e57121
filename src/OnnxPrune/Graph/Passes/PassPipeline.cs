namespace OnnxPrune.Graph.Passes;

/// <summary>Runs passes in order on one model (graphsurgeon's chained <c>cleanup().toposort()</c>).</summary>
public sealed class PassPipeline
{
    private readonly List<IGraphPass> _passes = new();

    /// <summary>Creates a pipeline of <paramref name="passes"/>, run in the order given.</summary>
    public PassPipeline(params IEnumerable<IGraphPass> passes)
    {
        ArgumentNullException.ThrowIfNull(passes);
        foreach (var p in passes) Add(p);
    }

    /// <summary>The passes, in run order.</summary>
    public IReadOnlyList<IGraphPass> Passes => _passes;

    /// <summary>Appends a pass; returns this pipeline for chaining.</summary>
    public PassPipeline Add(IGraphPass pass)
    {
        ArgumentNullException.ThrowIfNull(pass);
        _passes.Add(pass);
        return this;
    }

    /// <summary>Runs every pass in order on <paramref name="model"/>, reporting each result as it completes.</summary>
    /// <returns>One result per pass, in run order.</returns>
    public IReadOnlyList<PassResult> Run(OnnxModel model, IProgress<PassResult>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var results = new List<PassResult>(_passes.Count);
        foreach (var pass in _passes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var r = pass.Run(model, cancellationToken);
            results.Add(r);
            progress?.Report(r);
        }
        return results;
    }
}
