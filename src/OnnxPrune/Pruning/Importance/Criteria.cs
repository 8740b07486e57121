namespace OnnxPrune.Pruning.Importance;

/// <summary>The built-in data-free criteria by name (for the CLI and configuration files).</summary>
public static class Criteria
{
    /// <summary>Names accepted by <see cref="Create"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["l1", "l2", "bn", "fpgm", "random"];

    /// <summary>Creates a criterion: l1, l2, bn (groups without BN fall back to l2), fpgm, random (seeded).</summary>
    /// <exception cref="ArgumentException">Unknown name.</exception>
    public static IImportanceCriterion Create(string name, long seed = 0) => name.ToLowerInvariant() switch
    {
        "l1" => new MagnitudeCriterion(1),
        "l2" => new MagnitudeCriterion(2),
        "bn" => new BatchNormScaleCriterion(fallback: new MagnitudeCriterion(2)),
        "fpgm" => new FpgmCriterion(),
        "random" => new RandomCriterion(seed),
        _ => throw new ArgumentException($"Unknown criterion '{name}'; use one of {string.Join(", ", Names)}.", nameof(name)),
    };
}
