using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Analysis;

/// <summary>A tensor's name, element type and shape, for reports.</summary>
/// <param name="Name">Value name.</param>
/// <param name="ElementType">ONNX element type name (e.g. "float"), or "?" when unknown.</param>
/// <param name="Shape">Dimensions as text: numbers, symbolic names, or "?".</param>
public sealed record TensorDescription(string Name, string ElementType, IReadOnlyList<string> Shape);

/// <summary>What <c>onnxprune info</c> reports about a model.</summary>
public sealed record ModelSummary
{
    /// <summary>IR version.</summary>
    public required long IrVersion { get; init; }
    /// <summary>Producer name and version.</summary>
    public required string Producer { get; init; }
    /// <summary>Imported opsets: domain ("" = ai.onnx) → version.</summary>
    public required IReadOnlyDictionary<string, long> Opsets { get; init; }
    /// <summary>Data inputs (initializers listed as inputs are left out).</summary>
    public required IReadOnlyList<TensorDescription> Inputs { get; init; }
    /// <summary>Graph outputs.</summary>
    public required IReadOnlyList<TensorDescription> Outputs { get; init; }
    /// <summary>Number of nodes in the main graph.</summary>
    public required int Nodes { get; init; }
    /// <summary>Op type → count, sorted by op type.</summary>
    public required IReadOnlyDictionary<string, int> Ops { get; init; }
    /// <summary>Total element count of floating-point constant tensors (initializers and Constant nodes).</summary>
    public required long Parameters { get; init; }
    /// <summary>Bytes of those parameters.</summary>
    public required long ParameterBytes { get; init; }
    /// <summary>Parameter bytes per element type name.</summary>
    public required IReadOnlyDictionary<string, long> ParameterBytesByType { get; init; }
    /// <summary>Number of constant tensors of any type.</summary>
    public required int ConstantTensors { get; init; }

    /// <summary>Summarizes a model.</summary>
    public static ModelSummary Of(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var g = model.Graph;
        long parameters = 0, bytes = 0;
        var byType = new SortedDictionary<string, long>(StringComparer.Ordinal);
        int constants = 0;
        foreach (var c in g.Constants)
        {
            constants++;
            if (!ElementTypes.IsFloatingPoint(c.ElementType)) continue;
            long n = c.ElementCount;
            long b = ElementTypes.ByteCount(c.ElementType, n);
            parameters += n;
            bytes += b;
            var key = ElementTypes.OnnxName(c.ElementType);
            byType[key] = byType.GetValueOrDefault(key) + b;
        }
        var ops = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var n in g.Nodes)
        {
            var key = n.IsStandard ? n.OpType : $"{n.Domain}.{n.OpType}";
            ops[key] = ops.GetValueOrDefault(key) + 1;
        }
        return new ModelSummary
        {
            IrVersion = model.IrVersion,
            Producer = string.IsNullOrEmpty(model.ProducerVersion) ? model.ProducerName : $"{model.ProducerName} {model.ProducerVersion}",
            Opsets = new SortedDictionary<string, long>(model.Opsets.ToDictionary(), StringComparer.Ordinal),
            Inputs = g.DataInputs.Select(Describe).ToArray(),
            Outputs = g.Outputs.Select(Describe).ToArray(),
            Nodes = g.Nodes.Count,
            Ops = ops,
            Parameters = parameters,
            ParameterBytes = bytes,
            ParameterBytesByType = byType,
            ConstantTensors = constants,
        };
    }

    private static TensorDescription Describe(Value v) => new(
        v.Name,
        v.ElementType == ElementType.Undefined ? "?" : ElementTypes.OnnxName(v.ElementType),
        v.Shape?.Select(d => d.ToString()).ToArray() ?? Array.Empty<string>());
}
