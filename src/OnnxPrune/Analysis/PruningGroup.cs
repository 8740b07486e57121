using OnnxPrune.Graph;

namespace OnnxPrune.Analysis;

/// <summary>The kind of prunable unit a group holds.</summary>
public enum GroupKind
{
    /// <summary>Conv / ConvTranspose output channels (with everything coupled to them).</summary>
    Channels,
    /// <summary>Gemm / MatMul output features.</summary>
    Features,
    /// <summary>Whole attention heads (Q, K, V column blocks, output-projection row blocks, head-count constants).</summary>
    AttentionHeads,
    /// <summary>Hidden units of a transformer MLP.</summary>
    MlpHidden,
    /// <summary>Channels of a residual stream joined by Add nodes.</summary>
    ResidualStream,
}

/// <summary>
/// A root dimension (e.g. the 64 output channels of conv X) and every coupled slice that must shrink with it.
/// Immutable; produced by the dependency analyser, consumed by criteria, planners and surgery.
/// </summary>
public sealed record PruningGroup
{
    private readonly string? _key;

    /// <summary>Index within one analysis (0, 1, 2, … in graph order). Not stable across models or edits: use
    /// <see cref="Key"/> to refer to a group from outside (scores files, masks, task libraries).</summary>
    public required int Id { get; init; }

    /// <summary>
    /// The group's stable identity: non-empty, unique within the model, and the same across analyses of the same
    /// model, save/load, <c>onnxprune convert</c> and the stripping of node names. Built from the root's weight
    /// tensor name, the sliced axis and the region of the root axis the group owns (grammar in ANALYSIS.md,
    /// "Group keys"). Groups built by hand without a key get <c>#Id</c>.
    /// </summary>
    public string Key { get => _key ?? $"#{Id}"; init => _key = string.IsNullOrEmpty(value) ? throw new ArgumentException("A group key must not be empty.", nameof(value)) : value; }

    /// <summary>What the units are.</summary>
    public required GroupKind Kind { get; init; }

    /// <summary>The node whose output dimension defines the units (for reports and protection).</summary>
    public required Node Root { get; init; }

    /// <summary>Number of units.</summary>
    public required long Size { get; init; }

    /// <summary>Every coupled edit.</summary>
    public required IReadOnlyList<GroupItem> Items { get; init; }

    /// <summary>Every activation (non-constant) dimension the group's units occupy, declared or not, with its map: what
    /// the cost model needs to re-count nodes without weights (attention's Q·Kᵀ and scores·V shrink with the heads).
    /// Not edits: surgery uses <see cref="Items"/>.</summary>
    public IReadOnlyList<ValueDimItem> ActivationDims { get; init; } = Array.Empty<ValueDimItem>();

    /// <summary>Why the group may not be pruned; empty when prunable.</summary>
    public IReadOnlyList<string> BlockedReasons { get; init; } = Array.Empty<string>();

    /// <summary>Smallest number of units the group may keep (e.g. 1; heads need ≥ 1 too).</summary>
    public long MinKeep { get; init; } = 1;

    /// <summary>True when the group must not be pruned.</summary>
    public bool IsBlocked => BlockedReasons.Count > 0;

    /// <summary>Constant slices of the group (what magnitude criteria score and surgery cuts).</summary>
    public IEnumerable<ConstantSliceItem> ConstantSlices => Items.OfType<ConstantSliceItem>();

    /// <inheritdoc/>
    public override string ToString() =>
        $"#{Id} [{Key}] {Kind} {Root.DisplayName} ×{Size}{(IsBlocked ? " BLOCKED: " + string.Join("; ", BlockedReasons) : "")}";
}
