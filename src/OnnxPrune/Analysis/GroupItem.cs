using OnnxPrune.Graph;

namespace OnnxPrune.Analysis;

/// <summary>What shrinks when a group loses units.</summary>
public enum GroupItemKind
{
    /// <summary>A constant tensor (initializer or Constant node) is sliced along <see cref="GroupItem.Axis"/>:
    /// weights, biases, BN parameters, channel-wise operands of Add/Mul.</summary>
    ConstantSlice,
    /// <summary>A value's declared shape shrinks on <see cref="GroupItem.Axis"/> (activations in value_info, outputs).</summary>
    ValueDim,
    /// <summary>One element of an int64 shape/split/slice constant is rewritten (Reshape target shapes with a head
    /// count, Split sizes, Slice ends): it becomes the kept count × <see cref="GroupItem.Factor"/>.</summary>
    /// <remarks>Precisely: the element decreases by (removed units × Factor). That equals kept × Factor when the element
    /// counts exactly this group's units, and also covers elements shared by several groups (a flattened Concat of
    /// two groups, Slice bounds and Pad amounts, which count only the units before or inside a range).</remarks>
    ShapeElement,
    /// <summary>An integer attribute becomes the kept count × <see cref="GroupItem.Factor"/> (the group count of a depthwise Conv).</summary>
    /// <remarks>Like <see cref="ShapeElement"/>, precisely: it decreases by removed units × Factor. For an integer-list
    /// attribute (Split's `split`, Slice's `starts`/`ends`, Pad's `pads` in old opsets) <see cref="GroupItem.AttributeElement"/>
    /// names the element.</remarks>
    Attribute,
}

/// <summary>One coupled slice of a <see cref="PruningGroup"/>.</summary>
public sealed record GroupItem
{
    /// <summary>What kind of edit this item needs.</summary>
    public required GroupItemKind Kind { get; init; }

    /// <summary>The tensor or value edited: a constant's value (ConstantSlice, ShapeElement) or an activation (ValueDim).</summary>
    public Value? Value { get; init; }

    /// <summary>The node edited (Attribute), or the node that reads the tensor, for reports.</summary>
    public Node? Node { get; init; }

    /// <summary>Axis sliced (ConstantSlice, ValueDim) or element index (ShapeElement).</summary>
    public int Axis { get; init; }

    /// <summary>Root unit → positions on the axis (ConstantSlice, ValueDim).</summary>
    public IndexMap Map { get; init; } = IdentityMap.Instance;

    /// <summary>Attribute name (Attribute).</summary>
    public string? AttributeName { get; init; }

    /// <summary>For an Attribute item on an integer-list attribute: the element rewritten; null for a single integer.</summary>
    public int? AttributeElement { get; init; }

    /// <summary>Multiplier for ShapeElement and Attribute rewrites (e.g. head dim when the shape holds heads·dim).</summary>
    public long Factor { get; init; } = 1;

    /// <summary>True for slices whose values are the unit's weights (scored by magnitude criteria), false for
    /// slices that only follow (e.g. the next layer's input channels are scored too: true; BN running mean: false).</summary>
    public bool IsScored { get; init; }

    /// <summary>Short text for reports.</summary>
    public override string ToString() => Kind switch
    {
        GroupItemKind.ConstantSlice => $"slice {Value?.Name} axis {Axis} ({Map})",
        GroupItemKind.ValueDim => $"dim {Value?.Name} axis {Axis}",
        GroupItemKind.ShapeElement => $"shape {Value?.Name}[{Axis}] = kept×{Factor}",
        GroupItemKind.Attribute => $"attribute {Node?.DisplayName}.{AttributeName}{(AttributeElement is int e ? $"[{e}]" : "")} = kept×{Factor}",
        _ => Kind.ToString(),
    };
}
