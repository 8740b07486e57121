using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Pruning;

/// <summary>A weight tensor holds NaN or ±infinity, so importance scores computed from it are meaningless. The message
/// names the model file, the tensor and the first bad element.</summary>
public sealed class NonFiniteWeightsException : OnnxPruneException
{
    /// <summary>Creates the exception.</summary>
    public NonFiniteWeightsException(string file, string tensor, long element, double value, Exception? inner = null)
        : base($"{file}: weight tensor '{tensor}' holds {Describe(value)} at element {element}; importance scores cannot be computed from it.", inner)
    {
        File = file;
        Tensor = tensor;
        Element = element;
    }

    /// <summary>The model file (or a description of the model when it was not loaded from a file).</summary>
    public string File { get; }

    /// <summary>The tensor's name.</summary>
    public string Tensor { get; }

    /// <summary>Flat index of the first non-finite element.</summary>
    public long Element { get; }

    private static string Describe(double v) => double.IsNaN(v) ? "NaN" : v > 0 ? "+infinity" : "-infinity";

    /// <summary>The first scored floating-point constant of <paramref name="groups"/> holding NaN or ±infinity, as an
    /// exception to throw; null when every one is finite.</summary>
    internal static NonFiniteWeightsException? Find(OnnxModel model, IEnumerable<PruningGroup> groups, Exception? inner = null)
    {
        var seen = new HashSet<ConstantTensor>(ReferenceEqualityComparer.Instance);
        foreach (var g in groups)
            foreach (var item in g.ConstantSlices)
            {
                if (!item.IsScored || item.Value.Constant is not { } c || !ElementTypes.IsFloatingPoint(c.ElementType) || !seen.Add(c)) continue;
                var data = c.Data;
                (long Index, double Value)? bad = c.ElementType switch
                {
                    ElementType.Float => First<float>(data.AsSpan<float>(), float.IsFinite),
                    ElementType.Double => First<double>(data.AsSpan<double>(), double.IsFinite),
                    _ => First<float>(data.ToFloatArray(), float.IsFinite),
                };
                if (bad is { } b) return new NonFiniteWeightsException(model.SourcePath ?? "<model in memory>", c.Name, b.Index, b.Value, inner);
            }
        return null;
    }

    private static (long, double)? First<T>(ReadOnlySpan<T> values, Func<T, bool> isFinite) where T : unmanaged, IConvertible
    {
        for (int i = 0; i < values.Length; i++)
            if (!isFinite(values[i])) return (i, values[i].ToDouble(null));
        return null;
    }
}
