namespace OnnxPrune.Pruning.Importance;

/// <summary>
/// Scores the units of pruning groups (higher = more important). Criteria only read the model: they never edit
/// the graph; the planner turns scores into keep-masks and surgery applies them.
/// </summary>
/// <remarks>
/// Data-free criteria (magnitude, BN scale, FPGM, random) read constant tensors; data-driven ones (activation,
/// Taylor) read batches from <see cref="ImportanceContext.Data"/>; score masks from other tasks arrive through
/// <see cref="ExternalScores"/>. All of them plug into the same planner.
/// </remarks>
public interface IImportanceCriterion
{
    /// <summary>Short name for reports, e.g. "l2".</summary>
    string Name { get; }

    /// <summary>Scores every non-blocked group the criterion can score. Groups it cannot score are left out of the
    /// result (the planner keeps them whole and says why).</summary>
    ValueTask<GroupScores> ScoreAsync(ImportanceContext context, CancellationToken cancellationToken = default);
}
