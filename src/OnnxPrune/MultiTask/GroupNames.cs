using OnnxPrune.Analysis;

namespace OnnxPrune.MultiTask;

/// <summary>Names groups across analyses of copies and pruned versions of one model.</summary>
internal static class GroupNames
{
    /// <summary>
    /// A group's name: its root node's first output (value names are unique and surgery keeps them). To be replaced by the
    /// analyser's stable group key (PruningGroup.Key) once it lands.
    /// </summary>
    public static string Of(PruningGroup g) => g.Root.Outputs.FirstOrDefault(v => v is not null)?.Name ?? g.Root.DisplayName;
}
