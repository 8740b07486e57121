using System.CommandLine;
using System.Text.Json;
using OnnxPrune.Analysis;
using OnnxPrune.Graph;

namespace OnnxPrune.Cli.Commands;

/// <summary><c>onnxprune analyze MODEL [--json]</c>: the pruning groups of a model.</summary>
internal static class AnalyzeCommand
{
    public static Command Create()
    {
        var model = new Argument<FileInfo>("model") { Description = "The ONNX model file." };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text." };
        var allowInterface = new Option<bool>("--allow-interface-change") { Description = "Graph input/output sizes (e.g. a KV cache's head count) may change: they no longer block groups." };
        var command = new Command("analyze", "List the model's pruning groups (coupled channels, features, heads), what each couples, and why blocked ones are blocked.") { model, json, allowInterface };
        command.SetAction((parse, ct) =>
        {
            var path = parse.GetValue(model)!.FullName;
            var m = OnnxModel.Load(path);
            var report = AnalysisReport.Of(m, DependencyAnalyzer.Analyze(m, new AnalysisOptions { AllowInterfaceChange = parse.GetValue(allowInterface) }, ct), ct);
            if (parse.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(report, Json.Options));
            else PrintText(path, report);
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    private static void PrintText(string path, AnalysisReport r)
    {
        Console.WriteLine($"Model: {path}");
        Console.WriteLine($"Fingerprint: {r.Fingerprint}");
        foreach (var g in r.Groups)
        {
            Console.WriteLine($"#{g.Id} [{g.Key}] {g.Kind} root {g.Root} ({g.RootOp}) ×{g.Size}, {g.Parameters:N0} params{(g.Blocked.Count > 0 ? " BLOCKED" : "")}");
            foreach (var i in g.Items) Console.WriteLine($"    {i.Text}");
            foreach (var b in g.Blocked) Console.WriteLine($"    blocked: {b}");
        }
        Console.WriteLine($"Groups: {r.GroupCount}, prunable: {r.Prunable}, blocked: {r.BlockedCount}");
        Console.WriteLine($"Prunable parameters (removable with every group keeping its minimum): {r.PrunableParameters:N0} of {r.Parameters:N0} ({r.PrunableShare:P1})");
    }
}
