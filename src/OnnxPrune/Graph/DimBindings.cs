using System.Globalization;

namespace OnnxPrune.Graph;

/// <summary>
/// Concrete values for symbolic dims, and the one grammar that binds them (<see cref="Parse"/>). The shape engine (<c>Analysis/ShapeInference</c>) works on symbolic shapes; concrete
/// shapes (for MAC counting, for a training graph at a fixed batch) are the same inference with these bindings
/// substituted into the graph inputs' and declared values' dims, so there is one set of per-op shape rules.
/// </summary>
/// <remarks>Substitution goes through <see cref="Resolve(Dim)"/> only. A dim is a size, a name, an expression over
/// names (<see cref="DimExpression"/>: computed by the shape engine, e.g. a Conv window over a symbolic width or a
/// Reshape target read from Shape) or unknown; expressions are evaluated here, and the rules keep reading
/// <see cref="Dim"/>s.</remarks>
/// <param name="Dims">Symbolic name → size (e.g. "height" → 640).</param>
/// <param name="Batch">The size of a data input's first dim when it is symbolic and not in <paramref name="Dims"/>, or
/// unknown (no size given); null leaves such a dim symbolic.</param>
public sealed record DimBindings(IReadOnlyDictionary<string, long> Dims, long? Batch = null)
{
    /// <summary>
    /// The one grammar for binding symbolic input dimensions to values (<c>--dim</c> of every verb, and pipeline files):
    /// <c>NAME=VALUE</c> binds every dimension called NAME (e.g. <c>batch=4</c>), <c>INPUT:AXIS=VALUE</c> binds one axis of
    /// one input (e.g. <c>image:2=224</c>, which wins over the name where both apply). VALUE is a positive integer.
    /// </summary>
    /// <remarks>Parses <c>NAME=VALUE</c> / <c>INPUT:AXIS=VALUE</c> pairs; a later pair for the same key wins.</remarks>
    /// <exception cref="ArgumentException">A pair is malformed, its key empty, or its value not a positive integer (the message quotes it).</exception>
    public static Dictionary<string, long> Parse(IEnumerable<string>? pairs)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        if (pairs is null) return result;
        foreach (var pair in pairs)
        {
            int eq = pair?.LastIndexOf('=') ?? -1;
            if (eq <= 0 || !long.TryParse(pair.AsSpan(eq + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value <= 0)
                throw new ArgumentException($"--dim '{pair}': expected NAME=VALUE or INPUT:AXIS=VALUE with a positive integer value.", nameof(pairs));
            result[pair![..eq]] = value;
        }
        return result;
    }

    /// <summary>No bindings: inference stays symbolic.</summary>
    public static DimBindings None { get; } = new(new Dictionary<string, long>());

    /// <summary>The dim with its symbol replaced by its bound size when there is one.</summary>
    /// <remarks>An expression dim (<see cref="DimExpression"/>, e.g. a Conv window over a symbolic width) is evaluated
    /// when every name in it is bound.</remarks>
    public Dim Resolve(Dim dim) => dim.IsKnown || dim.Param is not { } p || DimExpression.Evaluate(p, Dims) is not long size ? dim : new Dim(size);

    /// <summary>A shape with every bound symbol replaced; <paramref name="isDataInput"/> also binds the first dim to
    /// <see cref="Batch"/> when it stays unresolved.</summary>
    public IReadOnlyList<Dim>? Resolve(IReadOnlyList<Dim>? shape, bool isDataInput = false)
    {
        if (shape is null) return null;
        var result = new Dim[shape.Count];
        for (int i = 0; i < shape.Count; i++)
        {
            result[i] = Resolve(shape[i]);
            if (i == 0 && isDataInput && !result[i].IsKnown && Batch is long b) result[i] = new Dim(b);
        }
        return result;
    }

    /// <summary>The concrete sizes of a shape under these bindings, or null when a dim stays unresolved.</summary>
    public long[]? Concrete(IReadOnlyList<Dim>? shape)
    {
        if (shape is null) return null;
        var result = new long[shape.Count];
        for (int i = 0; i < shape.Count; i++)
            if (Resolve(shape[i]).Value is long v) result[i] = v; else return null;
        return result;
    }
}
