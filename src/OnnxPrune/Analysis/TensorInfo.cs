using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Analysis;

/// <summary>
/// Where one element of a small integer tensor (a shape, split sizes, slice bounds) comes from, as tracked by
/// <see cref="ShapeInference"/> through Shape/Gather/Unsqueeze/Concat/Slice/Cast/Add/Sub/Mul/Div chains.
/// </summary>
/// <param name="Value">The element's value when known statically.</param>
/// <param name="Constant">The constant tensor the element is read from unchanged, or null.</param>
/// <param name="ConstantIndex">The element's flat index inside <paramref name="Constant"/>.</param>
/// <param name="DimValue">The value whose run-time dimension this element is (the output of Shape), or null.</param>
/// <param name="DimAxis">The axis of <paramref name="DimValue"/>.</param>
/// <param name="DimsOnly">For computed elements: true when computed from run-time dimensions only (no constants),
/// so the element follows pruned sizes by itself.</param>
/// <param name="Scaled">For an element computed as one run-time dimension multiplied or divided by a constant (a head
/// count <c>hidden / head_size</c>, a head size <c>hidden / heads</c>): how; else null.</param>
/// <param name="Symbol">The element as a symbolic dim when its value is not known statically: a dim name or a
/// <see cref="DimExpression"/> over names (<c>({past}+{seq})</c>); <see cref="Dim.Unknown"/> otherwise.</param>
/// <param name="Reads">For other computed elements: the run-time dims (value, axis) that went into it, or null.</param>
public readonly record struct TrackedElement(long? Value, Value? Constant = null, int ConstantIndex = 0, Value? DimValue = null, int DimAxis = 0, bool DimsOnly = false,
    ScaledDim? Scaled = null, Dim Symbol = default, IReadOnlyList<(Value Value, int Axis)>? Reads = null)
{
    /// <summary>Every run-time dim (value, axis) the element is read or computed from.</summary>
    public IReadOnlyList<(Value Value, int Axis)> ReadDims =>
        DimValue is { } v ? [(v, DimAxis)] : Scaled is { } s ? [(s.DimValue, s.Axis)] : Reads ?? [];

    /// <summary>True when the element follows run-time dimensions (read from a shape, or computed from shapes only).</summary>
    public bool FollowsDims => DimValue is not null || (Constant is null && DimsOnly);

    /// <summary>The element as a dim: its value when known, else <see cref="Symbol"/>.</summary>
    public Dim AsDim => Value is long v ? new Dim(v) : Symbol;

    /// <summary>An element computed from others: its value and whether only dimensions went into it.</summary>
    public static TrackedElement Computed(long? value, bool dimsOnly) => new(value, DimsOnly: dimsOnly);
}

/// <summary>An element computed as run-time dimension <paramref name="Axis"/> of <paramref name="DimValue"/> multiplied
/// (<paramref name="Divide"/> false) or floor-divided by the constant <paramref name="By"/>, by node <paramref name="Node"/>.</summary>
/// <param name="DimValue">The value whose dimension is read (through Shape).</param>
/// <param name="Axis">Its axis.</param>
/// <param name="Divide">True for a division (<c>dim / By</c>), false for a product (<c>dim · By</c>).</param>
/// <param name="By">The constant operand's value (positive).</param>
/// <param name="Constant">The constant tensor <paramref name="By"/> is read from unchanged (rewritable), or null.</param>
/// <param name="ConstantIndex">Its flat index in <paramref name="Constant"/>.</param>
/// <param name="Node">The Mul/Div node that computes the element (the reader of <paramref name="Constant"/>).</param>
public sealed record ScaledDim(Value DimValue, int Axis, bool Divide, long By, Value? Constant, int ConstantIndex, Node Node);

/// <summary>What static shape inference knows about a value.</summary>
/// <param name="ElementType">Element type, or <see cref="ElementType.Undefined"/>.</param>
/// <param name="Shape">Dimensions (known, symbolic or unknown), or null when the rank is unknown.</param>
/// <param name="Elements">For small integer tensors (≤ 64 elements, rank ≤ 1): each element's value and origin; else null.</param>
public sealed record TensorInfo(ElementType ElementType, IReadOnlyList<Dim>? Shape, IReadOnlyList<TrackedElement>? Elements = null)
{
    /// <summary>Rank, or -1 when unknown.</summary>
    public int Rank => Shape?.Count ?? -1;

    /// <summary>The known size of <paramref name="axis"/> (negative counts from the end), or null.</summary>
    public long? Size(int axis)
    {
        if (Shape is null) return null;
        if (axis < 0) axis += Shape.Count;
        return axis >= 0 && axis < Shape.Count ? Shape[axis].Value : null;
    }

    /// <summary>The element values when all are known, else null.</summary>
    public long[]? KnownValues => Elements is { } e && e.All(x => x.Value.HasValue) ? e.Select(x => x.Value!.Value).ToArray() : null;

    /// <summary>An info with no facts.</summary>
    public static TensorInfo Unknown { get; } = new(ElementType.Undefined, null);

    /// <summary>Most tracked elements a tensor may have.</summary>
    public const int MaxTrackedElements = 64;
}
