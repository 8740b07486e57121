using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace OnnxPrune.Pipeline;

/// <summary>Progress of a pipeline run.</summary>
/// <param name="Step">1-based step number.</param>
/// <param name="Steps">Number of steps.</param>
/// <param name="Name">The step (prune, finetune, export, evaluate).</param>
/// <param name="Message">What is happening.</param>
public sealed record PipelineProgress(int Step, int Steps, string Name, string Message);

/// <summary>One point of the accuracy-versus-steps curve of a fine-tuning step.</summary>
public sealed record AccuracyPoint(int Step, double Accuracy, double Loss);

/// <summary>What one step did. Saved as <c>step.json</c> in the step's folder, last, so a folder with it is complete.</summary>
public sealed record StepRecord
{
    /// <summary>The step (prune, finetune, export, evaluate).</summary>
    public required string Step { get; init; }
    /// <summary>Content address: SHA-256 of the OnnxPrune version, the step, its options and its input files' bytes.</summary>
    public required string Key { get; init; }
    /// <summary>The step's output model (full path), or null for evaluate.</summary>
    public string? Model { get; init; }
    /// <summary>SHA-256 of the output model's bytes (checked when the step is reused).</summary>
    public string? ModelSha256 { get; init; }
    /// <summary>Output model bytes.</summary>
    public long Bytes { get; init; }
    /// <summary>Wall time of the step when it ran (a timing: not deterministic).</summary>
    public double Seconds { get; init; }
    /// <summary>Test accuracy along fine-tuning (finetune only).</summary>
    public IReadOnlyList<AccuracyPoint>? History { get; init; }
    /// <summary>The step's own report (the verb's report as JSON).</summary>
    public JsonNode? Details { get; init; }
}

/// <summary>Measurements of one stage's model (the source or a step's output).</summary>
/// <param name="Stage">source, prune, finetune or export.</param>
/// <param name="Model">The model file.</param>
/// <param name="Bytes">File size.</param>
/// <param name="Accuracy">Top-1 test accuracy.</param>
/// <param name="Loss">Test cross-entropy.</param>
/// <param name="LatencyMedianMs">Median latency, ONNX Runtime CPU, 1 thread (0 when not measured).</param>
/// <param name="LatencyP90Ms">90th percentile latency.</param>
public sealed record StageMeasurement(string Stage, string Model, long Bytes, double Accuracy, double Loss, double LatencyMedianMs, double LatencyP90Ms);

/// <summary>The evaluate step's result: every stage measured on the same data.</summary>
/// <param name="Data">The test data's name.</param>
/// <param name="Images">Test images.</param>
/// <param name="Stages">Source first, final last.</param>
public sealed record PipelineEvaluation(string Data, int Images, IReadOnlyList<StageMeasurement> Stages);

/// <summary>One gate's outcome.</summary>
/// <param name="Gate">The YAML key (max_accuracy_drop, min_speedup, max_bytes, max_latency_ms).</param>
/// <param name="Limit">The limit.</param>
/// <param name="Actual">The measured value.</param>
/// <param name="Passed">Whether the gate holds.</param>
public sealed record GateResult(string Gate, double Limit, double Actual, bool Passed);

/// <summary>The pipeline's report: steps, evaluation, gates. Deterministic apart from timings and latencies.</summary>
public sealed record PipelineReport
{
    /// <summary>The pipeline file.</summary>
    public required string Pipeline { get; init; }
    /// <summary>The OnnxPrune version that ran it.</summary>
    public required string Version { get; init; }
    /// <summary>The source model.</summary>
    public required string Source { get; init; }
    /// <summary>The final model (the last step's output).</summary>
    public required string Final { get; init; }
    /// <summary>Steps in order, with whether each was reused from the cache.</summary>
    public required IReadOnlyList<StepRecord> Steps { get; init; }
    /// <summary>Names of the steps reused from an earlier run.</summary>
    public required IReadOnlyList<string> Reused { get; init; }
    /// <summary>The evaluation, when the pipeline evaluates.</summary>
    public PipelineEvaluation? Evaluation { get; init; }
    /// <summary>The gates.</summary>
    public required IReadOnlyList<GateResult> Gates { get; init; }
    /// <summary>Whether every gate passed.</summary>
    public bool Passed => Gates.All(g => g.Passed);

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The report as indented JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>The report as Markdown; <paramref name="plots"/> are image files beside it.</summary>
    public string ToMarkdown(IReadOnlyList<(string Title, string File)>? plots = null)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(c, $"# Pipeline report: {Path.GetFileName(Pipeline)}").AppendLine();
        sb.AppendLine(c, $"OnnxPrune {Version}; source `{Path.GetFileName(Source)}` → final `{Final}`").AppendLine();
        sb.AppendLine("| step | key | output bytes | reused | seconds |").AppendLine("|---|---|---|---|---|");
        foreach (var s in Steps)
            sb.AppendLine(c, $"| {s.Step} | `{s.Key[..12]}` | {(s.Model is null ? "" : s.Bytes.ToString("N0", c))} | {(Reused.Contains(s.Step) ? "yes" : "no")} | {s.Seconds:F1} |");
        sb.AppendLine();
        if (Evaluation is { } e)
        {
            sb.AppendLine(c, $"Evaluation on {e.Data} ({e.Images} images; latency: ONNX Runtime CPU, 1 thread):").AppendLine();
            sb.AppendLine("| stage | bytes | accuracy | loss | latency median / p90 ms |").AppendLine("|---|---|---|---|---|");
            foreach (var m in e.Stages)
                sb.AppendLine(c, $"| {m.Stage} | {m.Bytes:N0} | {m.Accuracy:P2} | {m.Loss:F4} | {m.LatencyMedianMs:F3} / {m.LatencyP90Ms:F3} |");
            sb.AppendLine();
        }
        if (Gates.Count > 0)
        {
            sb.AppendLine("| gate | limit | actual | result |").AppendLine("|---|---|---|---|");
            foreach (var g in Gates) sb.AppendLine(c, $"| {g.Gate} | {g.Limit:G6} | {g.Actual:G6} | {(g.Passed ? "pass" : "**FAIL**")} |");
            sb.AppendLine().AppendLine(Passed ? "All gates passed." : "A gate failed.").AppendLine();
        }
        foreach (var (title, file) in plots ?? []) sb.AppendLine(c, $"![{title}]({file})").AppendLine();
        return sb.ToString();
    }

    /// <summary>A self-contained HTML page: the Markdown's tables plus the plots as inline SVG.</summary>
    public string ToHtml(IReadOnlyList<(string Title, string Svg)> plots)
    {
        ArgumentNullException.ThrowIfNull(plots);
        var c = CultureInfo.InvariantCulture;
        static string H(string s) => System.Net.WebUtility.HtmlEncode(s);
        var sb = new StringBuilder();
        sb.AppendLine("<!DOCTYPE html>").AppendLine("<html lang=\"en\"><head><meta charset=\"utf-8\">");
        sb.AppendLine(c, $"<title>Pipeline report: {H(Path.GetFileName(Pipeline))}</title>");
        sb.AppendLine("<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}td:first-child,th:first-child{text-align:left}.fail{color:#b00;font-weight:bold}.pass{color:#070}figure{display:inline-block;margin:1em}</style>");
        sb.AppendLine("</head><body>");
        sb.AppendLine(c, $"<h1>Pipeline report: {H(Path.GetFileName(Pipeline))}</h1>");
        sb.AppendLine(c, $"<p>OnnxPrune {H(Version)}; source <code>{H(Source)}</code> → final <code>{H(Final)}</code></p>");
        sb.AppendLine("<table><tr><th>step</th><th>key</th><th>output bytes</th><th>reused</th><th>seconds</th></tr>");
        foreach (var s in Steps)
            sb.AppendLine(c, $"<tr><td>{H(s.Step)}</td><td><code>{s.Key[..12]}</code></td><td>{(s.Model is null ? "" : s.Bytes.ToString("N0", c))}</td><td>{(Reused.Contains(s.Step) ? "yes" : "no")}</td><td>{s.Seconds:F1}</td></tr>");
        sb.AppendLine("</table>");
        if (Evaluation is { } e)
        {
            sb.AppendLine(c, $"<h2>Evaluation</h2><p>{H(e.Data)}, {e.Images} images; latency: ONNX Runtime CPU, 1 thread.</p>");
            sb.AppendLine("<table><tr><th>stage</th><th>bytes</th><th>accuracy</th><th>loss</th><th>latency median / p90 ms</th></tr>");
            foreach (var m in e.Stages)
                sb.AppendLine(c, $"<tr><td>{H(m.Stage)}</td><td>{m.Bytes:N0}</td><td>{m.Accuracy:P2}</td><td>{m.Loss:F4}</td><td>{m.LatencyMedianMs:F3} / {m.LatencyP90Ms:F3}</td></tr>");
            sb.AppendLine("</table>");
        }
        if (Gates.Count > 0)
        {
            sb.AppendLine("<h2>Gates</h2><table><tr><th>gate</th><th>limit</th><th>actual</th><th>result</th></tr>");
            foreach (var g in Gates)
                sb.AppendLine(c, $"<tr><td>{g.Gate}</td><td>{g.Limit:G6}</td><td>{g.Actual:G6}</td><td class=\"{(g.Passed ? "pass" : "fail")}\">{(g.Passed ? "pass" : "FAIL")}</td></tr>");
            sb.AppendLine("</table>");
        }
        sb.AppendLine("<h2>Plots</h2>");
        foreach (var (title, svg) in plots)
            sb.AppendLine(c, $"<figure><figcaption>{H(title)}</figcaption>{StripXmlDeclaration(svg)}</figure>");
        sb.AppendLine("</body></html>");
        return sb.ToString();
    }

    private static string StripXmlDeclaration(string svg)
    {
        int at = svg.IndexOf("<svg", StringComparison.Ordinal);
        return at > 0 ? svg[at..] : svg;
    }
}
