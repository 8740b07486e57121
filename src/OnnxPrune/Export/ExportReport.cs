using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using OnnxPrune.Graph.Passes;

namespace OnnxPrune.Export;

/// <summary>The largest difference of one output against the source model.</summary>
/// <param name="Output">Output name.</param>
/// <param name="MaxAbs">max |candidate − source|.</param>
/// <param name="MaxRel">max |candidate − source| / max(max |source|, 0.01).</param>
public sealed record OutputDifference(string Output, double MaxAbs, double MaxRel);

/// <summary>Equivalence of the exported model with the source on one kind of input.</summary>
/// <param name="Inputs"><c>random</c>, or the data set the real images come from.</param>
/// <param name="Samples">Random input sets, or real images.</param>
/// <param name="Outputs">Per output.</param>
public sealed record EquivalenceReport(string Inputs, int Samples, IReadOnlyList<OutputDifference> Outputs);

/// <summary>Top-1 accuracy before and after on a test split.</summary>
public sealed record AccuracyReport(string Data, int Images, double Before, double After)
{
    /// <summary>After − before, in percentage points.</summary>
    public double DeltaPoints => (After - Before) * 100;
}

/// <summary>Latency of one run.</summary>
/// <param name="Threads">Intra-op threads (0: all, ONNX Runtime's default).</param>
/// <param name="MedianMs">Median.</param>
/// <param name="P90Ms">90th percentile.</param>
/// <param name="Runs">Timed runs.</param>
public sealed record LatencyFigures(int Threads, double MedianMs, double P90Ms, int Runs);

/// <summary>Latency before and after at one thread setting.</summary>
public sealed record LatencyComparison(int Threads, LatencyFigures Before, LatencyFigures After)
{
    /// <summary>Before / after median (above 1: faster).</summary>
    public double Speedup => After.MedianMs > 0 ? Before.MedianMs / After.MedianMs : 0;
}

/// <summary>What <see cref="Exporter"/> did and measured.</summary>
public sealed record ExportReport(
    string Source, string Output, ExportOptions Options, IReadOnlyList<PassResult> Passes,
    long BytesBefore, long BytesAfter, IReadOnlyDictionary<string, int> OpsBefore, IReadOnlyDictionary<string, int> OpsAfter,
    IReadOnlyList<EquivalenceReport> Equivalence, AccuracyReport? Accuracy, IReadOnlyList<LatencyComparison> Latency)
{
    /// <summary>After / before file size.</summary>
    public double SizeRatio => BytesBefore > 0 ? (double)BytesAfter / BytesBefore : 0;

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The report as indented JSON (camelCase keys).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Writes the report atomically: Markdown when <paramref name="path"/> ends in <c>.md</c>, else JSON.</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var text = path.EndsWith(".md", StringComparison.OrdinalIgnoreCase) ? ToMarkdown() : ToJson();
        using var writer = new Onnx.AtomicFileWriter();
        using (var stream = writer.Create(path))
        using (var w = new StreamWriter(stream, new UTF8Encoding(false))) w.Write(text);
        writer.Commit();
    }

    /// <summary>The report as Markdown.</summary>
    public string ToMarkdown()
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(c, $"# Export report: {Path.GetFileName(Source)} → {Path.GetFileName(Output)}").AppendLine();
        sb.AppendLine(c, $"Size: {BytesBefore:N0} → {BytesAfter:N0} bytes ({SizeRatio:F3}×)").AppendLine();
        sb.AppendLine("| pass | changes | notes |").AppendLine("|---|---|---|");
        foreach (var p in Passes) sb.AppendLine(c, $"| {p.Pass} | {p.Changes} | {string.Join("; ", p.Notes.Take(6)).Replace("|", "/", StringComparison.Ordinal)}{(p.Notes.Count > 6 ? $"; … ({p.Notes.Count - 6} more)" : "")} |");
        sb.AppendLine();
        if (Equivalence.Count > 0)
        {
            sb.AppendLine("| inputs | samples | output | max abs diff | max rel diff |").AppendLine("|---|---|---|---|---|");
            foreach (var e in Equivalence)
                foreach (var o in e.Outputs) sb.AppendLine(c, $"| {e.Inputs} | {e.Samples} | {o.Output} | {o.MaxAbs:G3} | {o.MaxRel:G3} |");
            sb.AppendLine();
        }
        if (Accuracy is { } a) sb.AppendLine(c, $"Accuracy on {a.Data} ({a.Images} images): {a.Before:P2} → {a.After:P2} ({a.DeltaPoints:+0.00;-0.00} points)").AppendLine();
        if (Latency.Count > 0)
        {
            sb.AppendLine("| threads | before median / p90 ms | after median / p90 ms | speedup |").AppendLine("|---|---|---|---|");
            foreach (var l in Latency)
                sb.AppendLine(c, $"| {(l.Threads == 0 ? "all" : l.Threads.ToString(c))} | {l.Before.MedianMs:F3} / {l.Before.P90Ms:F3} | {l.After.MedianMs:F3} / {l.After.P90Ms:F3} | {l.Speedup:F2}× |");
        }
        return sb.ToString();
    }
}
