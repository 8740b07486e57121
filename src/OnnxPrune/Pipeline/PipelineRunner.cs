using OnnxPrune.Analysis;
using System.Diagnostics;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OnnxPrune.Data;
using OnnxPrune.Export;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Runtime;
using OnnxPrune.Training;

namespace OnnxPrune.Pipeline;

/// <summary>A gate failed; thrown after the reports are written. <see cref="Report"/> holds every gate's outcome.</summary>
public class GateFailedException : OnnxPruneException
{
    /// <summary>Creates the exception.</summary>
    public GateFailedException(PipelineReport report, string reportPath)
        : base($"{string.Join("; ", report.Gates.Where(g => !g.Passed).Select(g => $"{g.Gate} limit {g.Limit:G6}, actual {g.Actual:G6}"))} (report: {reportPath})")
    {
        Report = report;
        ReportPath = reportPath;
    }

    /// <summary>The report (already written).</summary>
    public PipelineReport Report { get; }

    /// <summary>The JSON report's path.</summary>
    public string ReportPath { get; }
}

/// <summary>
/// Runs a <see cref="PipelineDefinition"/>: each step's output goes to a content-addressed folder under the output folder
/// (<c>steps/NN-STEP-KEY/</c>, key = SHA-256 of the OnnxPrune version, the step, its options and its input files' bytes);
/// a step whose folder is complete is reused, so a rerun resumes after the last completed step. A step works in a
/// <c>.partial</c> folder renamed into place when done, so a killed step leaves nothing that looks complete.
/// Then it writes <c>report.json</c>, <c>report.md</c>, <c>report.html</c> and the plots, and checks the gates.
/// </summary>
public static class PipelineRunner
{
    /// <summary>Version string that goes into every step key and the report.</summary>
    public static string Version { get; } =
        typeof(PipelineRunner).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(PipelineRunner).Assembly.GetName().Version?.ToString() ?? "0";

    /// <summary>Runs the pipeline into <paramref name="outDir"/>, writes the reports, then checks the gates.</summary>
    /// <exception cref="GateFailedException">A gate failed (the reports are written).</exception>
    /// <exception cref="OperationCanceledException">Cancelled; completed steps stay reusable.</exception>
    public static Task<PipelineReport> RunAsync(PipelineDefinition pipeline, string outDir, IProgress<PipelineProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentException.ThrowIfNullOrEmpty(outDir);
        return Task.Run(() => RunCore(pipeline, Path.GetFullPath(outDir), progress, cancellationToken), cancellationToken);
    }

    private static async Task<PipelineReport> RunCore(PipelineDefinition pipeline, string outDir, IProgress<PipelineProgress>? progress, CancellationToken ct)
    {
        if (!File.Exists(pipeline.Model)) throw new FileNotFoundException($"{pipeline.SourcePath}: model '{pipeline.Model}' not found.", pipeline.Model);
        Directory.CreateDirectory(Path.Combine(outDir, "steps"));
        var entries = pipeline.Steps.Select(s => s.Named().Single()).ToList();
        // Gates without an evaluate step: evaluate with the defaults.
        if (pipeline.Gates is not null && entries.All(e => e.Name != "evaluate"))
            entries.Add(("evaluate", new EvaluateStepOptions { Data = pipeline.Data, Classes = [.. pipeline.Classes] }));

        var records = new List<StepRecord>();
        var reused = new List<string>();
        var stages = new List<(string Stage, string Model)> { ("source", pipeline.Model) };
        var current = pipeline.Model;
        PipelineEvaluation? evaluation = null;
        for (int i = 0; i < entries.Count; i++)
        {
            ct.ThrowIfCancellationRequested();
            var (name, options) = entries[i];
            var report = new StepProgress(progress, i + 1, entries.Count, name);
            var inputs = name == "evaluate" ? stages.Select(s => s.Model).ToList() : [current];
            if (options is FinetuneStepOptions { Teacher: { } teacher }) inputs.Add(teacher == "source" ? pipeline.Model : teacher);
            if (options is PruneStepOptions { Scores: { } scores }) inputs.Add(scores);
            var key = Key(name, options, inputs);
            var dir = Path.Combine(outDir, "steps", $"{i + 1:D2}-{name}-{key[..16]}");
            var record = TryReuse(dir, key);
            if (record is not null)
            {
                reused.Add(name);
                report.Say($"reused {Path.GetFileName(dir)}");
            }
            else
            {
                report.Say($"running ({Path.GetFileName(dir)})");
                var partial = dir + ".partial";
                if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
                if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
                Directory.CreateDirectory(partial);
                var clock = Stopwatch.StartNew();
                var output = Path.Combine(partial, "model.onnx");
                record = options switch
                {
                    PruneStepOptions p => await PruneAsync(current, output, p, report, ct).ConfigureAwait(false),
                    FinetuneStepOptions f => await FinetuneAsync(current, output, f, pipeline.Model, report, ct).ConfigureAwait(false),
                    ExportStepOptions x => await ExportAsync(current, output, x, report, ct).ConfigureAwait(false),
                    EvaluateStepOptions e => Evaluate(stages, e, report, ct),
                    _ => throw new InvalidOperationException($"no runner for step '{name}'"),
                };
                record = record with
                {
                    Step = name,
                    Key = key,
                    Model = record.Model is null ? null : Path.Combine(dir, "model.onnx"),
                    ModelSha256 = record.Model is null ? null : Sha256File(output),
                    Bytes = record.Model is null ? 0 : new FileInfo(output).Length,
                    Seconds = clock.Elapsed.TotalSeconds,
                };
                ct.ThrowIfCancellationRequested();
                WriteAtomic(Path.Combine(partial, "step.json"), JsonSerializer.Serialize(record, PipelineReport.JsonOptions));
                Directory.Move(partial, dir);
                report.Say($"done in {record.Seconds:F1} s");
            }
            records.Add(record);
            if (record.Model is not null)
            {
                current = record.Model;
                stages.Add((name, current));
            }
            if (name == "evaluate") evaluation = record.Details?.Deserialize<PipelineEvaluation>(PipelineReport.JsonOptions);
        }

        var gates = CheckGates(pipeline.Gates, evaluation);
        var result = new PipelineReport
        {
            Pipeline = pipeline.SourcePath ?? "<pipeline>",
            Version = Version,
            Source = pipeline.Model,
            Final = current,
            Steps = records,
            Reused = reused,
            Evaluation = evaluation,
            Gates = gates,
        };
        var reportPath = PipelinePlots.WriteReports(result, outDir);
        progress?.Report(new PipelineProgress(entries.Count, entries.Count, "report", $"wrote {reportPath} (+ .md, .html)"));
        if (!result.Passed) throw new GateFailedException(result, reportPath);
        return result;
    }

    /// <summary>The gates' outcomes on <paramref name="evaluation"/> (final stage against the source).</summary>
    public static IReadOnlyList<GateResult> CheckGates(PipelineGates? gates, PipelineEvaluation? evaluation)
    {
        if (gates is null) return [];
        if (evaluation is null || evaluation.Stages.Count == 0) throw new InvalidOperationException("gates need an evaluation");
        var source = evaluation.Stages[0];
        var final = evaluation.Stages[^1];
        var results = new List<GateResult>();
        if (gates.MaxAccuracyDrop is { } drop)
        {
            double actual = (source.Accuracy - final.Accuracy) * 100;
            results.Add(new GateResult("max_accuracy_drop", drop, actual, actual <= drop));
        }
        if (gates.MinSpeedup is { } speedup)
        {
            double actual = final.LatencyMedianMs > 0 ? source.LatencyMedianMs / final.LatencyMedianMs : 0;
            results.Add(new GateResult("min_speedup", speedup, actual, actual >= speedup));
        }
        if (gates.MaxBytes is { } bytes) results.Add(new GateResult("max_bytes", bytes, final.Bytes, final.Bytes <= bytes));
        if (gates.MaxLatencyMs is { } ms) results.Add(new GateResult("max_latency_ms", ms, final.LatencyMedianMs, final.LatencyMedianMs > 0 && final.LatencyMedianMs <= ms));
        return results;
    }

    private static async Task<StepRecord> PruneAsync(string input, string output, PruneStepOptions options, StepProgress report, CancellationToken ct)
    {
        var model = OnnxModel.Load(input);
        var progress = new SynchronousProgress<PruneProgress>(p => { if (p.Fraction is null) report.Say($"{p.Stage.ToString().ToLowerInvariant()}: {p.Message}"); });
        var pruner = options.AllowInterfaceChange ? Pruner.With(new AnalysisOptions { AllowInterfaceChange = true }) : Pruner.Default;
        var result = await pruner.PruneAsync(model, options.ToOptions(model), progress, ct).ConfigureAwait(false);
        model.Save(output);
        report.Say($"parameters {result.Before.Parameters:N0} → {result.After.Parameters:N0}");
        return new StepRecord { Step = "prune", Key = "", Model = output, Details = JsonSerializer.SerializeToNode(result, PipelineReport.JsonOptions) };
    }

    private static async Task<StepRecord> FinetuneAsync(string input, string output, FinetuneStepOptions options, string source, StepProgress report, CancellationToken ct)
    {
        var model = OnnxModel.Load(input);
        var teacher = options.Teacher is null ? null : OnnxModel.Load(options.Teacher == "source" ? source : options.Teacher);
        var history = new List<AccuracyPoint>();
        var progress = new SynchronousProgress<FinetuneProgress>(p =>
        {
            if (p.Training is { } t)
            {
                if (t.Evaluation is { } e) history.Add(new AccuracyPoint(t.Step, e.Accuracy, e.Loss));
                report.Say(t.ToString());
            }
            else report.Say(p.Message);
        });
        var (tuned, result) = await FineTuner.Default.FinetuneAsync(model, options.ToOptions(teacher), progress, ct).ConfigureAwait(false);
        if (result.Before is { } before) history.Insert(0, new AccuracyPoint(0, before.Accuracy, before.Loss));
        if (result.After is { } after && (history.Count == 0 || history[^1].Step != result.Training.Steps))
            history.Add(new AccuracyPoint(result.Training.Steps, after.Accuracy, after.Loss));
        tuned.Save(output);
        var details = new JsonObject
        {
            ["trainData"] = result.TrainData,
            ["testData"] = result.TestData,
            ["steps"] = result.Training.Steps,
            ["finalLoss"] = result.Training.FinalLoss,
            ["accuracyBefore"] = result.Before?.Accuracy,
            ["accuracyAfter"] = result.After?.Accuracy,
        };
        return new StepRecord { Step = "finetune", Key = "", Model = output, History = history, Details = details };
    }

    private static async Task<StepRecord> ExportAsync(string input, string output, ExportStepOptions options, StepProgress report, CancellationToken ct)
    {
        var progress = new SynchronousProgress<ExportProgress>(p => report.Say($"{p.Stage}: {p.Message}"));
        var result = await Exporter.ExportAsync(input, output, options.ToOptions(), progress, ct).ConfigureAwait(false);
        return new StepRecord { Step = "export", Key = "", Model = output, Details = JsonNode.Parse(result.ToJson()) };
    }

    private static StepRecord Evaluate(IReadOnlyList<(string Stage, string Model)> stages, EvaluateStepOptions options, StepProgress report, CancellationToken ct)
    {
        var classes = options.Classes?.ToArray();
        var full = TaskData.Load(options.Data ?? "fashion-mnist", train: false);
        var settings = new SessionSettings { IntraOpThreads = options.Threads, Provider = SessionSettings.ParseProvider(options.Provider) };
        var measured = new List<StageMeasurement>();
        string dataName = "";
        int images = 0;
        foreach (var (stage, path) in stages)
        {
            ct.ThrowIfCancellationRequested();
            var model = OnnxModel.Load(path);
            var test = TaskData.ForTask(full, classes, TaskData.OutputClasses(model));
            if (options.Images > 0 && options.Images < test.Count)
                test = test.TakePerClass(Math.Max(1, (options.Images + test.ClassCount - 1) / test.ClassCount), options.Seed);
            (dataName, images) = (test.Name, test.Count);
            report.Say($"{stage}: accuracy on {test.Count} images of {test.Name}");
            var accuracy = Evaluator.Evaluate(model, test, options.Batch, settings, ct);
            LatencyFigures? latency = null;
            if (options.LatencyRuns > 0)
            {
                report.Say($"{stage}: latency, {options.LatencyRuns} runs at 1 thread");
                latency = ExportChecks.Latency(model, 1, options.LatencyWarmup, options.LatencyRuns, options.Seed);
            }
            measured.Add(new StageMeasurement(stage, path, new FileInfo(path).Length, accuracy.Accuracy, accuracy.Loss, latency?.MedianMs ?? 0, latency?.P90Ms ?? 0));
        }
        var evaluation = new PipelineEvaluation(dataName, images, measured);
        return new StepRecord { Step = "evaluate", Key = "", Details = JsonSerializer.SerializeToNode(evaluation, PipelineReport.JsonOptions) };
    }

    // A completed step folder whose model still has the recorded hash; anything else is redone.
    private static StepRecord? TryReuse(string dir, string key)
    {
        var file = Path.Combine(dir, "step.json");
        if (!File.Exists(file)) return null;
        try
        {
            var record = JsonSerializer.Deserialize<StepRecord>(File.ReadAllText(file), PipelineReport.JsonOptions);
            if (record is null || record.Key != key) return null;
            if (record.Model is not null && (!File.Exists(record.Model) || Sha256File(record.Model) != record.ModelSha256)) return null;
            return record;
        }
        catch (JsonException) { return null; }
    }

    private static string Key(string name, object options, IEnumerable<string> inputs)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes($"onnxprune {Version}\nstep {name}\n"));
        sha.AppendData(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(options, options.GetType(), PipelineReport.JsonOptions)));
        foreach (var input in inputs) sha.AppendData(Encoding.UTF8.GetBytes("\ninput " + Sha256File(input)));
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    private static string Sha256File(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    internal static void WriteAtomic(string path, string text)
    {
        using var writer = new Onnx.AtomicFileWriter();
        using (var stream = writer.Create(path))
        using (var w = new StreamWriter(stream, new UTF8Encoding(false))) w.Write(text);
        writer.Commit();
    }

    private sealed class StepProgress(IProgress<PipelineProgress>? inner, int step, int steps, string name)
    {
        public void Say(string message) => inner?.Report(new PipelineProgress(step, steps, name, message));
    }
}
