using OnnxPrune.Graph;
using OnnxPrune.Graph.Passes;

namespace OnnxPrune.Export;

/// <summary>Merges constants (initializers and Constant nodes) with equal element type, shape and bytes into the first
/// one; readers of the others read it instead, and the others are removed.</summary>
/// <remarks>
/// <para><b>Preconditions</b>: none. Constants that are graph inputs (IR version 3 style, overridable at run time) or
/// graph outputs, and constants read inside subgraphs, are never merged.</para>
/// <para><b>Guarantee</b>: outputs are bit-identical; graph inputs and outputs are unchanged.</para>
/// </remarks>
public sealed class DeduplicateConstantsPass : IGraphPass
{
    /// <inheritdoc/>
    public string Name => "dedup-constants";

    /// <inheritdoc/>
    public PassResult Run(OnnxModel model, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph;
        var keep = new Dictionary<(Tensors.ElementType, string, int), List<ConstantTensor>>();
        int merged = 0;
        long bytes = 0;
        foreach (var c in graph.Constants.ToArray())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var v = c.Value;
            if (v.IsGraphInput || v.IsGraphOutput || v.Consumers.Any(n => n.ImplicitInputs.Contains(v))) continue;
            var data = c.Data.RawData;
            var key = (c.ElementType, string.Join(",", c.Shape), Hash(data));
            if (!keep.TryGetValue(key, out var candidates)) { keep[key] = new() { c }; continue; }
            var same = candidates.FirstOrDefault(k => k.Data.RawData.AsSpan().SequenceEqual(data));
            if (same is null) { candidates.Add(c); continue; }
            // The kept constant must be defined before every reader: initializers always are; a Constant node is
            // moved into place by the topological sort below.
            graph.ReplaceAllUses(v, same.Value);
            if (c.Kind == ConstantKind.Initializer) graph.RemoveInitializer(c);
            else graph.RemoveNode(c.Node!);
            merged++;
            bytes += data.Length;
        }
        if (merged > 0) graph.TopologicalSort();
        return new PassResult(Name, merged, merged == 0 ? Array.Empty<string>() : new[] { $"merged {merged} duplicate constants ({bytes} bytes)" });
    }

    private static int Hash(byte[] data)
    {
        var h = new HashCode();
        h.AddBytes(data);
        return h.ToHashCode();
    }
}
