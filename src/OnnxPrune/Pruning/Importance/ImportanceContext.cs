using OnnxPrune.Analysis;
using OnnxPrune.Data;
using OnnxPrune.Graph;

namespace OnnxPrune.Pruning.Importance;

/// <summary>Progress of a scoring run.</summary>
/// <param name="Done">Groups (or batches, for data-driven criteria) finished.</param>
/// <param name="Total">Groups (or batches) in all.</param>
/// <param name="Stage">What is being done, for progress lines.</param>
public readonly record struct ImportanceProgress(int Done, int Total, string Stage);

/// <summary>Everything a criterion may read.</summary>
public sealed record ImportanceContext
{
    /// <summary>The model (read only).</summary>
    public required OnnxModel Model { get; init; }

    /// <summary>The groups to score (blocked groups are skipped by every criterion).</summary>
    public required IReadOnlyList<PruningGroup> Groups { get; init; }

    /// <summary>Input batches (their targets unused unless a criterion needs them, e.g. Taylor), for data-driven criteria; null for data-free ones.</summary>
    public IDataProvider? Data { get; init; }

    /// <summary>Optional progress sink.</summary>
    public IProgress<ImportanceProgress>? Progress { get; init; }

    /// <summary>Creates a context over a model and its groups.</summary>
    public static ImportanceContext For(OnnxModel model, IReadOnlyList<PruningGroup> groups) => new() { Model = model, Groups = groups };
}
