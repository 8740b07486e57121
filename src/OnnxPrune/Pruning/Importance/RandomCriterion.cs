namespace OnnxPrune.Pruning.Importance;

/// <summary>
/// Uniform random scores in [0, 1): the baseline every criterion must beat. Deterministic: the score of unit u of
/// group g depends only on (seed, g, u) through SplitMix64, not on the order groups are scored in or the process.
/// </summary>
public sealed class RandomCriterion : IImportanceCriterion
{
    /// <summary>Creates the criterion with a seed.</summary>
    public RandomCriterion(long seed = 0) => Seed = seed;

    /// <summary>The seed.</summary>
    public long Seed { get; }

    /// <inheritdoc/>
    public string Name => "random";

    /// <inheritdoc/>
    public ValueTask<GroupScores> ScoreAsync(ImportanceContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var result = new GroupScores(Name);
        foreach (var group in context.Groups)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (group.IsBlocked) continue;
            var scores = new double[group.Size];
            ulong state = SplitMix((ulong)Seed ^ SplitMix((ulong)group.Id + 0x5851F42D4C957F2DUL));
            for (long u = 0; u < scores.Length; u++)
            {
                state = SplitMix(state);
                scores[u] = (state >> 11) * (1.0 / (1UL << 53));
            }
            result.Set(group, scores);
        }
        return ValueTask.FromResult(result);
    }

    private static ulong SplitMix(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
