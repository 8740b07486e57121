using System.CommandLine;
using OnnxPrune.Pipeline;

namespace OnnxPrune.Cli.Commands;

/// <summary>
/// <c>onnxprune pipeline run PIPELINE.yaml [--out DIR]</c>: runs a YAML pipeline (library: <see cref="PipelineRunner"/>);
/// exit code 16 when a gate fails (after the reports are written), 2 for a bad pipeline file.
/// </summary>
internal static class PipelineCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("pipeline") { Description = "The pipeline file (YAML; see src/OnnxPrune/Pipeline/PIPELINE.md)." };
        var outDir = new Option<DirectoryInfo?>("--out")
        {
            Description = "Output folder: step outputs (reused by a rerun) and report.json/.md/.html with plots (default: pipeline-out in the current folder).",
        };
        var run = new Command("run", "Run the steps (prune → finetune → export → evaluate), write the reports, check the gates.") { file, outDir };
        run.SetAction(async (parse, ct) =>
        {
            var definition = PipelineFile.Load(parse.GetValue(file)!.FullName);
            var dir = parse.GetValue(outDir)?.FullName ?? Path.GetFullPath("pipeline-out");
            var progress = new SynchronousProgress<PipelineProgress>(p => Console.Error.WriteLine($"[{p.Step}/{p.Steps} {p.Name}] {p.Message}"));
            var report = await PipelineRunner.RunAsync(definition, dir, progress, ct);
            foreach (var g in report.Gates) Console.WriteLine(FormattableString.Invariant($"gate {g.Gate}: limit {g.Limit:G6}, actual {g.Actual:G6}: pass"));
            Console.WriteLine($"{Path.Combine(dir, "report.json")}: final model {report.Final}");
            return ExitCodes.Ok;
        });
        return new Command("pipeline", "Model-release pipelines from a YAML file.") { run };
    }
}
