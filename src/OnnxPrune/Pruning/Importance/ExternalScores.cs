using System.Text.Json;
using OnnxPrune.Analysis;
using OnnxPrune.Onnx;

namespace OnnxPrune.Pruning.Importance;

/// <summary>
/// Scores given from outside: score masks from a task library (Meta-Vote: aggregated keep-masks of similar tasks
/// become per-unit scores), a Python tool, or a previous run. Keyed by group id (valid within one analysis of one
/// model) or by group key (<see cref="PruningGroup.Key"/>: stable across analyses, save/load and node renaming),
/// optionally bound to the model they were made for by its <see cref="ModelFingerprint"/>.
/// </summary>
/// <remarks>Groups without given scores are left out. With a fingerprint, scoring a model with another fingerprint
/// throws <see cref="ModelMismatchException"/> (naming both). A score array of the wrong length is an error
/// (<see cref="ScoresFormatException"/> for a file). Scores are passed through <see cref="ScoreNormalization"/>
/// (default <see cref="ScoreNormalization.None"/>: vote fractions are already comparable across groups).</remarks>
public sealed class ExternalScores : IImportanceCriterion
{
    /// <summary>The value of the file's <c>format</c> field.</summary>
    public const string FormatTag = "onnxprune.scores/2";

    private readonly IReadOnlyDictionary<int, double[]>? _byId;
    private readonly IReadOnlyDictionary<string, double[]>? _byKey;
    private readonly string? _path;

    private ExternalScores(string name, IReadOnlyDictionary<int, double[]>? byId, IReadOnlyDictionary<string, double[]>? byKey,
        ModelFingerprint? fingerprint, string? path, ScoreNormalization normalization)
    {
        Name = name;
        _byId = byId;
        _byKey = byKey;
        Fingerprint = fingerprint;
        _path = path;
        Normalization = normalization;
    }

    /// <summary>Scores keyed by group id.</summary>
    public static ExternalScores ByGroupId(IReadOnlyDictionary<int, double[]> scores, string name = "external", ScoreNormalization normalization = ScoreNormalization.None) =>
        new(name, scores ?? throw new ArgumentNullException(nameof(scores)), null, null, null, normalization);

    /// <summary>Scores keyed by <see cref="PruningGroup.Key"/>; with <paramref name="fingerprint"/>, only for that model.</summary>
    public static ExternalScores ByGroupKey(IReadOnlyDictionary<string, double[]> scores, ModelFingerprint? fingerprint = null, string name = "external",
        ScoreNormalization normalization = ScoreNormalization.None) =>
        new(name, null, scores ?? throw new ArgumentNullException(nameof(scores)), fingerprint, null, normalization);

    /// <summary>
    /// Reads scores from a JSON file:
    /// <c>{"format": "onnxprune.scores/2", "name": "votes", "fingerprint": "HEX…", "groups": {"GROUP_KEY": [s0, s1, …], …}}</c>,
    /// keyed by <see cref="PruningGroup.Key"/> (as <c>onnxprune analyze --json</c> prints them) and bound to the model
    /// whose fingerprint it carries ("format" and "name" are optional). The format a task library or another tool writes.
    /// </summary>
    /// <exception cref="ScoresFormatException">The file is not in that format (old files keyed by root node name, without
    /// a fingerprint, included).</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static ExternalScores Load(string path, ScoreNormalization normalization = ScoreNormalization.None)
    {
        ArgumentNullException.ThrowIfNull(path);
        const string Expected = "expected {\"fingerprint\": \"HEX…\", \"groups\": {\"GROUP_KEY\": [scores…]}}";
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new ScoresFormatException(path, $"not JSON ({e.Message}); {Expected}.", e); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new ScoresFormatException(path, $"not a JSON object; {Expected}.");
            if (root.TryGetProperty("format", out var f) && (f.ValueKind != JsonValueKind.String || f.GetString() != FormatTag))
                throw new ScoresFormatException(path, $"format {f} is not \"{FormatTag}\".");
            string name = root.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : "external";
            if (!root.TryGetProperty("groups", out var groupsElement) || groupsElement.ValueKind != JsonValueKind.Object)
                throw new ScoresFormatException(path, $"no \"groups\" object; {Expected}.");
            if (!root.TryGetProperty("fingerprint", out var fp) || fp.ValueKind != JsonValueKind.String)
                throw new ScoresFormatException(path, "no \"fingerprint\": scores files are keyed by group key and bound to their model's fingerprint " +
                    "(both printed by 'onnxprune analyze --json'); files keyed by root node name, from earlier versions, are no longer read.");
            ModelFingerprint fingerprint;
            try { fingerprint = ModelFingerprint.Parse(fp.GetString()!); }
            catch (FormatException e) { throw new ScoresFormatException(path, e.Message, e); }
            var groups = new Dictionary<string, double[]>(StringComparer.Ordinal);
            foreach (var g in groupsElement.EnumerateObject())
            {
                if (g.Value.ValueKind != JsonValueKind.Array)
                    throw new ScoresFormatException(path, $"group '{g.Name}': scores must be an array of numbers.");
                var scores = new double[g.Value.GetArrayLength()];
                int i = 0;
                foreach (var x in g.Value.EnumerateArray())
                {
                    if (x.ValueKind != JsonValueKind.Number || !x.TryGetDouble(out var d) || !double.IsFinite(d))
                        throw new ScoresFormatException(path, $"group '{g.Name}': score {i} ({x}) is not a finite number.");
                    scores[i++] = d;
                }
                groups[g.Name] = scores;
            }
            return new ExternalScores(name, null, groups, fingerprint, path, normalization);
        }
    }

    /// <summary>Writes scores in the format <see cref="Load"/> reads (keyed by group key, bound to
    /// <paramref name="fingerprint"/>), atomically.</summary>
    /// <param name="path">The file to write.</param>
    /// <param name="scores">The scores.</param>
    /// <param name="groups">The groups they were computed for (their keys name them in the file).</param>
    /// <param name="fingerprint">The fingerprint of the model the groups come from (<see cref="ModelFingerprint.Of"/>).</param>
    public static void Save(string path, GroupScores scores, IReadOnlyList<PruningGroup> groups, ModelFingerprint fingerprint)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(fingerprint);
        var byKey = new SortedDictionary<string, double[]>(StringComparer.Ordinal);
        foreach (var g in groups)
            if (scores.TryGet(g.Id, out var s)) byKey[g.Key] = s;
        var json = new { format = FormatTag, name = scores.Criterion, fingerprint = fingerprint.ToString(), groups = byKey };
        using var writer = new AtomicFileWriter();
        using (var stream = writer.Create(path))
            JsonSerializer.Serialize(stream, json, new JsonSerializerOptions { WriteIndented = true });
        writer.Commit();
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>The fingerprint of the model the scores were made for; null when not bound to a model.</summary>
    public ModelFingerprint? Fingerprint { get; }

    /// <summary>How scores are made comparable across groups.</summary>
    public ScoreNormalization Normalization { get; }

    /// <inheritdoc/>
    /// <exception cref="ModelMismatchException">The scores were made for a model with another fingerprint.</exception>
    public ValueTask<GroupScores> ScoreAsync(ImportanceContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        Fingerprint?.EnsureMatches(ModelFingerprint.Of(context.Model, cancellationToken), _path is null ? "The scores" : $"Scores file {_path}");
        var result = new GroupScores(Name);
        foreach (var group in context.Groups)
        {
            if (group.IsBlocked || Find(group) is not { } given) continue;
            if (_path is not null && given.LongLength != group.Size)
                throw new ScoresFormatException(_path, $"group '{group.Key}' has {group.Size} units, the file gives {given.Length} scores.");
            var scores = (double[])given.Clone();
            WeightSlices.Normalize(scores, Normalization, 1, rootOfCount: false);
            result.Set(group, scores);
        }
        return ValueTask.FromResult(result);
    }

    private double[]? Find(PruningGroup group) =>
        _byId is not null ? _byId.GetValueOrDefault(group.Id) : _byKey!.GetValueOrDefault(group.Key);
}
