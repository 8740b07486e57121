using System.Text.Json;
using OnnxPrune.Analysis;

namespace OnnxPrune.Pruning.Importance;

/// <summary>
/// Scores given from outside: score masks from a task library (Meta-Vote: aggregated keep-masks of similar tasks
/// become per-unit scores), a Python tool, or a previous run. Keyed by group id (valid within one analysis of one
/// model) or by the root node's name (stable across analyses of the same model).
/// </summary>
/// <remarks>Groups without given scores are left out; a score array of the wrong length is an error.
/// Scores are passed through <see cref="ScoreNormalization"/> (default <see cref="ScoreNormalization.None"/>:
/// vote fractions are already comparable across groups).</remarks>
public sealed class ExternalScores : IImportanceCriterion
{
    private readonly IReadOnlyDictionary<int, double[]>? _byId;
    private readonly IReadOnlyDictionary<string, double[]>? _byRoot;

    private ExternalScores(string name, IReadOnlyDictionary<int, double[]>? byId, IReadOnlyDictionary<string, double[]>? byRoot, ScoreNormalization normalization)
    {
        Name = name;
        _byId = byId;
        _byRoot = byRoot;
        Normalization = normalization;
    }

    /// <summary>Scores keyed by group id.</summary>
    public static ExternalScores ByGroupId(IReadOnlyDictionary<int, double[]> scores, string name = "external", ScoreNormalization normalization = ScoreNormalization.None) =>
        new(name, scores ?? throw new ArgumentNullException(nameof(scores)), null, normalization);

    /// <summary>Scores keyed by the name of each group's root node.</summary>
    public static ExternalScores ByRootName(IReadOnlyDictionary<string, double[]> scores, string name = "external", ScoreNormalization normalization = ScoreNormalization.None) =>
        new(name, null, scores ?? throw new ArgumentNullException(nameof(scores)), normalization);

    /// <summary>
    /// Reads scores from a JSON file: <c>{"name": "votes", "groups": {"ROOT_NODE_NAME": [s0, s1, …], …}}</c>, keyed by
    /// each group's root node name ("name" is optional). The format a task library or another tool writes.
    /// </summary>
    /// <exception cref="OnnxPruneException">The file is not in that format.</exception>
    public static ExternalScores Load(string path, ScoreNormalization normalization = ScoreNormalization.None)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            string name = root.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : "external";
            var groups = new Dictionary<string, double[]>(StringComparer.Ordinal);
            foreach (var g in root.GetProperty("groups").EnumerateObject())
                groups[g.Name] = g.Value.EnumerateArray().Select(x => x.GetDouble()).ToArray();
            return ByRootName(groups, name, normalization);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new OnnxPruneException($"{path}: not a scores file ({{\"groups\": {{\"ROOT\": [scores…]}}}}): {e.Message}", e);
        }
    }

    /// <summary>Writes scores in the format <see cref="Load"/> reads (keyed by root node name).</summary>
    public static void Save(string path, GroupScores scores, IReadOnlyList<PruningGroup> groups)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(groups);
        var byRoot = new SortedDictionary<string, double[]>(StringComparer.Ordinal);
        foreach (var g in groups)
            if (scores.TryGet(g.Id, out var s)) byRoot[g.Root.Name] = s;
        File.WriteAllText(path, JsonSerializer.Serialize(new { name = scores.Criterion, groups = byRoot }, new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>How scores are made comparable across groups.</summary>
    public ScoreNormalization Normalization { get; }

    /// <inheritdoc/>
    public ValueTask<GroupScores> ScoreAsync(ImportanceContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var result = new GroupScores(Name);
        foreach (var group in context.Groups)
        {
            if (group.IsBlocked || Find(group) is not { } given) continue;
            var scores = (double[])given.Clone();
            WeightSlices.Normalize(scores, Normalization, 1, rootOfCount: false);
            result.Set(group, scores);
        }
        return ValueTask.FromResult(result);
    }

    private double[]? Find(PruningGroup group) =>
        _byId is not null ? _byId.GetValueOrDefault(group.Id) : _byRoot!.GetValueOrDefault(group.Root.Name);
}
