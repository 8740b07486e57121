using OnnxPrune.Graph;

namespace OnnxPrune.Analysis;

/// <summary>What shrinks when a group loses units; one <see cref="GroupItem"/> subtype per kind.</summary>
public enum GroupItemKind
{
    /// <summary><see cref="ConstantSliceItem"/>: a constant tensor is sliced along an axis.</summary>
    ConstantSlice,
    /// <summary><see cref="ValueDimItem"/>: a value's declared shape shrinks on an axis.</summary>
    ValueDim,
    /// <summary><see cref="ShapeElementItem"/>: one element of an integer shape/split/slice/pad constant is rewritten.</summary>
    ShapeElement,
    /// <summary><see cref="AttributeItem"/>: an integer attribute (or one element of an integer-list attribute) is rewritten.</summary>
    Attribute,
}

/// <summary>
/// One coupled edit of a <see cref="PruningGroup"/>. Four kinds, each its own type with only the fields it needs:
/// <see cref="ConstantSliceItem"/>, <see cref="ValueDimItem"/>, <see cref="ShapeElementItem"/>, <see cref="AttributeItem"/>.
/// Consumers switch on the type (<c>item switch { ConstantSliceItem s => …, … }</c>).
/// </summary>
public abstract record GroupItem
{
    private protected GroupItem() { }

    /// <summary>The kind (the same information as the runtime type, for reports and JSON).</summary>
    public abstract GroupItemKind Kind { get; }

    /// <summary>The node this item is reported against and that protection matches: the reader of a sliced constant,
    /// the producer of an activation, the node whose shape constant or attribute is rewritten.</summary>
    public abstract Node? Node { get; }

    /// <summary>The tensor edited (a constant or an activation); null for attributes.</summary>
    public abstract Value? Tensor { get; }
}

/// <summary>A constant tensor (initializer or Constant node) is sliced along <see cref="Axis"/>: weights, biases, BN
/// parameters, channel-wise operands of Add/Mul.</summary>
public sealed record ConstantSliceItem : GroupItem
{
    /// <summary>The constant's value (<c>Value.Constant</c> is not null when the analysis ran).</summary>
    public required Value Value { get; init; }

    /// <summary>The axis sliced.</summary>
    public required int Axis { get; init; }

    /// <summary>Root unit → positions on the axis.</summary>
    public IndexMap Map { get; init; } = IdentityMap.Instance;

    /// <summary>True for slices whose values are the unit's weights (scored by magnitude criteria), false for
    /// slices that only follow (e.g. the next layer's input channels are scored too: true; BN running mean: false).</summary>
    public bool IsScored { get; init; }

    /// <summary>A node that reads the constant, for reports.</summary>
    public Node? Reader { get; init; }

    /// <inheritdoc/>
    public override GroupItemKind Kind => GroupItemKind.ConstantSlice;

    /// <inheritdoc/>
    public override Node? Node => Reader;

    /// <inheritdoc/>
    public override Value? Tensor => Value;

    /// <summary>Short text for reports.</summary>
    public override string ToString() => $"slice {Value.Name} axis {Axis} ({Map})";
}

/// <summary>A value's declared shape shrinks on <see cref="Axis"/> (activations in value_info, outputs).</summary>
public sealed record ValueDimItem : GroupItem
{
    /// <summary>The activation.</summary>
    public required Value Value { get; init; }

    /// <summary>The axis that shrinks.</summary>
    public required int Axis { get; init; }

    /// <summary>Root unit → positions on the axis.</summary>
    public IndexMap Map { get; init; } = IdentityMap.Instance;

    /// <inheritdoc/>
    public override GroupItemKind Kind => GroupItemKind.ValueDim;

    /// <inheritdoc/>
    public override Node? Node => Value.Producer;

    /// <inheritdoc/>
    public override Value? Tensor => Value;

    /// <summary>Short text for reports.</summary>
    public override string ToString() => $"dim {Value.Name} axis {Axis}";
}

/// <summary>One element of an int64/int32 shape/split/slice/pad constant is rewritten (Reshape target shapes with a
/// head count, Split sizes, Slice ends, Pad amounts): it becomes the kept count × <see cref="Factor"/>.</summary>
/// <remarks>Precisely: the element decreases by (removed units × Factor). That equals kept × Factor when the element
/// counts exactly this group's units, and also covers elements shared by several groups (a flattened Concat of
/// two groups, Slice bounds and Pad amounts, which count only the units before or inside a range).</remarks>
public sealed record ShapeElementItem : GroupItem
{
    /// <summary>The integer constant's value.</summary>
    public required Value Constant { get; init; }

    /// <summary>The element rewritten (flat index into the constant).</summary>
    public required int Index { get; init; }

    /// <summary>Multiplier (e.g. head dim when the shape holds heads·dim).</summary>
    public long Factor { get; init; } = 1;

    /// <summary>The node whose rule asked for the rewrite (Reshape, Split, Slice, Pad, …).</summary>
    public required Node Owner { get; init; }

    /// <inheritdoc/>
    public override GroupItemKind Kind => GroupItemKind.ShapeElement;

    /// <inheritdoc/>
    public override Node? Node => Owner;

    /// <inheritdoc/>
    public override Value? Tensor => Constant;

    /// <summary>Short text for reports.</summary>
    public override string ToString() => $"shape {Constant.Name}[{Index}] = kept×{Factor}";
}

/// <summary>An integer attribute becomes the kept count × <see cref="Factor"/> (the group count of a depthwise Conv);
/// for an integer-list attribute (Split's <c>split</c>, Slice's <c>starts</c>/<c>ends</c>, Pad's <c>pads</c> in old
/// opsets) <see cref="Element"/> names the element.</summary>
/// <remarks>Like <see cref="ShapeElementItem"/>, precisely: it decreases by removed units × Factor.</remarks>
public sealed record AttributeItem : GroupItem
{
    /// <summary>The node whose attribute is rewritten.</summary>
    public required Node Owner { get; init; }

    /// <summary>The attribute's name.</summary>
    public required string Name { get; init; }

    /// <summary>For an integer-list attribute: the element rewritten; null for a single integer.</summary>
    public int? Element { get; init; }

    /// <summary>Multiplier of the rewrite.</summary>
    public long Factor { get; init; } = 1;

    /// <inheritdoc/>
    public override GroupItemKind Kind => GroupItemKind.Attribute;

    /// <inheritdoc/>
    public override Node? Node => Owner;

    /// <inheritdoc/>
    public override Value? Tensor => null;

    /// <summary>The attribute as text: <c>name</c> or <c>name[element]</c>.</summary>
    public string Text => Element is int e ? $"{Name}[{e}]" : Name;

    /// <summary>Short text for reports.</summary>
    public override string ToString() => $"attribute {Owner.DisplayName}.{Text} = kept×{Factor}";
}
