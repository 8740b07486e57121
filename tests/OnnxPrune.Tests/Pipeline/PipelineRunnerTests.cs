using System.Text.Json;
using OnnxPrune.Pipeline;

namespace OnnxPrune.Tests.Pipeline;

/// <summary>A CI-sized miniature of examples/pipeline.yaml end to end: reports with plots, gates and their exit code,
/// content-addressed resume after a completed, a damaged and a cancelled step.</summary>
public class PipelineRunnerTests
{
    private static string Model => Path.Combine(TestPaths.RepoRoot, "onnx-models", "fmnist-resnet.onnx");

    /// <summary>prune 50 % → finetune 4 steps on {0,3,7} → fold BN + INT8 static → evaluate; the model path is relative.</summary>
    private static string Miniature(string dir, string gates = "  max_accuracy_drop: 100\n  min_speedup: 0.01\n")
    {
        var path = Path.Combine(dir, "pipeline.yaml");
        File.WriteAllText(path, $$"""
            model: {{Path.GetRelativePath(dir, Model)}}
            classes: [0, 3, 7]
            steps:
              - prune: {ratio: 0.5}
              - finetune: {steps: 4, batch: 16, evaluation_interval: 2}
              - export: {fold_bn: true, int8: true, calibration_images: 32, latency_runs: 0}
              - evaluate: {images: 150, latency_runs: 3, latency_warmup: 1}
            gates:
            {{gates}}
            """);
        return path;
    }

    [Test]
    public async Task Miniature_runs_end_to_end_and_a_rerun_reuses_every_step()
    {
        var dir = TestPaths.TempDir();
        var outDir = Path.Combine(dir, "out");
        var messages = new List<PipelineProgress>();
        var report = await PipelineRunner.RunAsync(PipelineFile.Load(Miniature(dir)), outDir, new SyncProgress(messages.Add));

        Assert.That(report.Steps.Select(s => s.Step), Is.EqualTo(new[] { "prune", "finetune", "export", "evaluate" }));
        Assert.That(report.Reused, Is.Empty);
        Assert.That(report.Passed);
        Assert.That(messages.Select(m => m.Name).Distinct(), Is.SupersetOf(new[] { "prune", "finetune", "export", "evaluate" }), "progress per step");
        var stages = report.Evaluation!.Stages;
        Assert.That(stages.Select(s => s.Stage), Is.EqualTo(new[] { "source", "prune", "finetune", "export" }));
        Assert.That(stages[^1].Bytes, Is.LessThan(stages[0].Bytes * 0.3), "pruned and INT8");
        Assert.That(stages.All(s => s.Accuracy is > 0 and <= 1 && s.LatencyMedianMs > 0));
        Assert.That(report.Steps[1].History!.Select(h => h.Step), Is.EqualTo(new[] { 0, 2, 4 }), "accuracy before, then every 2 steps");
        Assert.That(report.Final, Is.EqualTo(report.Steps[2].Model));

        foreach (var file in new[] { "report.json", "report.md", "report.html", "accuracy.svg", "latency.svg", "size.svg" })
            Assert.That(File.Exists(Path.Combine(outDir, file)), file);
        var html = File.ReadAllText(Path.Combine(outDir, "report.html"));
        Assert.That(System.Text.RegularExpressions.Regex.Matches(html, "<svg").Count, Is.EqualTo(3), "three plots inline");
        Assert.That(html, Does.Not.Contain("src=\"http"), "self-contained");
        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "report.json"))).RootElement;
        Assert.That(json.GetProperty("gates").GetArrayLength(), Is.EqualTo(2));
        Assert.That(Directory.GetDirectories(Path.Combine(outDir, "steps")).Where(d => d.EndsWith(".partial", StringComparison.Ordinal)), Is.Empty);

        var again = await PipelineRunner.RunAsync(PipelineFile.Load(Miniature(dir)), outDir);
        Assert.That(again.Reused, Is.EqualTo(new[] { "prune", "finetune", "export", "evaluate" }));
        Assert.That(again.Steps.Select(s => s.Key), Is.EqualTo(report.Steps.Select(s => s.Key)));
        Assert.That(again.Evaluation, Is.EqualTo(report.Evaluation).Using<PipelineEvaluation>((a, b) => a.Stages.SequenceEqual(b.Stages)));

        // A damaged output (a step killed while the file was written by hand, or a disk error) is not taken as complete.
        var tuned = report.Steps[1].Model!;
        using (var stream = new FileStream(tuned, FileMode.Open)) stream.SetLength(stream.Length / 2);
        var repaired = await PipelineRunner.RunAsync(PipelineFile.Load(Miniature(dir)), outDir);
        Assert.That(repaired.Reused, Does.Contain("prune").And.Not.Contain("finetune"));
        Assert.That(new FileInfo(tuned).Length, Is.EqualTo(report.Steps[1].Bytes), "the fine-tuned model is written again");
    }

    [Test]
    public async Task A_failing_gate_throws_after_writing_the_reports_and_the_cli_exits_16()
    {
        var dir = TestPaths.TempDir();
        var outDir = Path.Combine(dir, "out");
        var path = Miniature(dir, "  max_accuracy_drop: 100\n  max_bytes: 10\n");
        var e = Assert.ThrowsAsync<GateFailedException>(() => PipelineRunner.RunAsync(PipelineFile.Load(path), outDir))!;
        Assert.That(e.Report.Gates.Single(g => !g.Passed).Gate, Is.EqualTo("max_bytes"));
        Assert.That(e.Message, Does.Contain("max_bytes"));
        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "report.json"))).RootElement;
        var gates = json.GetProperty("gates").EnumerateArray().ToDictionary(g => g.GetProperty("gate").GetString()!, g => g.GetProperty("passed").GetBoolean());
        Assert.That(gates, Is.EqualTo(new Dictionary<string, bool> { ["max_accuracy_drop"] = true, ["max_bytes"] = false }));
        Assert.That(File.ReadAllText(Path.Combine(outDir, "report.md")), Does.Contain("**FAIL**"));

        // The verb: exit 16 on the same pipeline (steps reused), the report rewritten; exit 0 once the gate is met.
        File.Delete(Path.Combine(outDir, "report.json"));
        var run = Processes.RunCli("pipeline", "run", path, "--out", outDir);
        Assert.That(run.ExitCode, Is.EqualTo(16), run.ToString());
        Assert.That(run.StdErr, Does.Contain("gate failed").And.Contain("max_bytes"));
        Assert.That(File.Exists(Path.Combine(outDir, "report.json")));
        var passing = Miniature(dir, "  max_accuracy_drop: 100\n  max_bytes: 100000000\n");
        var ok = Processes.RunCli("pipeline", "run", passing, "--out", outDir);
        Assert.That(ok.ExitCode, Is.EqualTo(0), ok.ToString());
        Assert.That(ok.StdErr, Does.Contain("reused"), "gates are checked on the cached evaluation");
    }

    [Test]
    public async Task A_step_cancelled_midway_leaves_nothing_complete_and_the_rerun_resumes_there()
    {
        var dir = TestPaths.TempDir();
        var outDir = Path.Combine(dir, "out");
        using var cancel = new CancellationTokenSource();
        // Cancel once fine-tuning has started training (the prune step is complete by then).
        var progress = new SyncProgress(p => { if (p.Name == "finetune" && p.Message.StartsWith("step ", StringComparison.Ordinal)) cancel.Cancel(); });
        Assert.CatchAsync<OperationCanceledException>(() => PipelineRunner.RunAsync(PipelineFile.Load(Miniature(dir)), outDir, progress, cancel.Token));
        var steps = Directory.GetDirectories(Path.Combine(outDir, "steps")).Select(Path.GetFileName).ToList();
        Assert.That(steps.Where(s => s!.Contains("-finetune-") && !s.EndsWith(".partial", StringComparison.Ordinal)), Is.Empty, "no finetune folder that looks complete");
        Assert.That(steps.Count(s => s!.Contains("-prune-")), Is.EqualTo(1));
        Assert.That(File.Exists(Path.Combine(outDir, "report.json")), Is.False);

        var report = await PipelineRunner.RunAsync(PipelineFile.Load(Miniature(dir)), outDir);
        Assert.That(report.Reused, Is.EqualTo(new[] { "prune" }));
        Assert.That(Directory.GetDirectories(Path.Combine(outDir, "steps")).Where(d => d.EndsWith(".partial", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    public void Gates_compare_the_final_stage_with_the_source()
    {
        var evaluation = new PipelineEvaluation("t", 100, [
            new StageMeasurement("source", "a", 1000, 0.90, 0.3, 2.0, 2.2),
            new StageMeasurement("export", "b", 300, 0.885, 0.3, 1.0, 1.1)]);
        var pass = PipelineRunner.CheckGates(new PipelineGates { MaxAccuracyDrop = 2, MinSpeedup = 1.5, MaxBytes = 300, MaxLatencyMs = 1.0 }, evaluation);
        Assert.That(pass.Select(g => g.Passed), Is.All.True);
        Assert.That(pass.Single(g => g.Gate == "max_accuracy_drop").Actual, Is.EqualTo(1.5).Within(1e-9));
        Assert.That(pass.Single(g => g.Gate == "min_speedup").Actual, Is.EqualTo(2.0).Within(1e-9));
        var fail = PipelineRunner.CheckGates(new PipelineGates { MaxAccuracyDrop = 1, MinSpeedup = 2.5, MaxBytes = 299, MaxLatencyMs = 0.5 }, evaluation);
        Assert.That(fail.Select(g => g.Passed), Is.All.False);
        Assert.That(PipelineRunner.CheckGates(null, null), Is.Empty);
    }

    private sealed class SyncProgress(Action<PipelineProgress> report) : IProgress<PipelineProgress>
    {
        public void Report(PipelineProgress value) => report(value);
    }
}
