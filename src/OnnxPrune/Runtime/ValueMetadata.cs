using OnnxPrune.Tensors;

namespace OnnxPrune.Runtime;

/// <summary>The kind of an ONNX value (ONNX Runtime's <c>ONNXType</c>, same numbering).</summary>
public enum OnnxValueKind
{
    /// <summary>Unknown kind.</summary>
    Unknown = 0,
    /// <summary>A dense tensor.</summary>
    Tensor = 1,
    /// <summary>A sequence of values.</summary>
    Sequence = 2,
    /// <summary>A map.</summary>
    Map = 3,
    /// <summary>An opaque value.</summary>
    Opaque = 4,
    /// <summary>A sparse tensor.</summary>
    SparseTensor = 5,
    /// <summary>An optional value.</summary>
    Optional = 6,
}

/// <summary>Name, kind, element type and shape of a model input or output as ONNX Runtime reports it.</summary>
/// <param name="Name">The value's name in the graph.</param>
/// <param name="Kind">Tensor, sequence, map, ...; only tensors can be passed to or returned from <see cref="InferenceSession.Run"/>.</param>
/// <param name="ElementType">The element type (<see cref="ElementType.Undefined"/> for non-tensors).</param>
/// <param name="Shape">The dimensions; -1 marks a dynamic dimension (see <paramref name="SymbolicDims"/> for its name).</param>
/// <param name="SymbolicDims">Per dimension, the symbolic name (e.g. "batch") or null when none is declared.</param>
public sealed record ValueMetadata(string Name, OnnxValueKind Kind, ElementType ElementType, IReadOnlyList<long> Shape, IReadOnlyList<string?> SymbolicDims)
{
    /// <summary>True when this is a tensor and every dimension is known.</summary>
    public bool IsFixedShape => Kind == OnnxValueKind.Tensor && Shape.All(d => d >= 0);

    /// <summary>Readable type, e.g. <c>float[batch,3,32,32]</c> or <c>sequence</c>.</summary>
    public string TypeText => Kind == OnnxValueKind.Tensor
        ? ElementTypes.OnnxName(ElementType) + "[" + string.Join(",", Shape.Select((d, i) => d >= 0 ? d.ToString() : SymbolicDims[i] ?? "?")) + "]"
        : Kind.ToString().ToLowerInvariant();

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {TypeText}";
}
