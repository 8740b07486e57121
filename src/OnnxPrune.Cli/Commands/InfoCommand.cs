using System.CommandLine;
using System.Text.Json;
using OnnxPrune.Analysis;
using OnnxPrune.Graph;

namespace OnnxPrune.Cli.Commands;

/// <summary><c>onnxprune info MODEL [--json]</c>: what a model holds.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var model = new Argument<FileInfo>("model") { Description = "The ONNX model file." };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text." };
        var command = new Command("info", "Show a model's IR version, opsets, inputs, outputs, op histogram and parameter counts.") { model, json };
        command.SetAction(parse =>
        {
            var path = parse.GetValue(model)!.FullName;
            var summary = ModelSummary.Of(OnnxModel.Load(path));
            if (parse.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(summary, Json.Options));
            else PrintText(path, summary);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static void PrintText(string path, ModelSummary s)
    {
        Console.WriteLine($"Model:       {path}");
        Console.WriteLine($"IR version:  {s.IrVersion}");
        Console.WriteLine($"Producer:    {s.Producer}");
        Console.WriteLine($"Opsets:      {string.Join(", ", s.Opsets.Select(o => $"{(o.Key.Length == 0 ? "ai.onnx" : o.Key)} {o.Value}"))}");
        foreach (var i in s.Inputs) Console.WriteLine($"Input:       {i.Name} {i.ElementType}[{string.Join(",", i.Shape)}]");
        foreach (var o in s.Outputs) Console.WriteLine($"Output:      {o.Name} {o.ElementType}[{string.Join(",", o.Shape)}]");
        Console.WriteLine($"Nodes:       {s.Nodes}");
        Console.WriteLine($"Parameters:  {s.Parameters:N0} ({s.ParameterBytes:N0} bytes: {string.Join(", ", s.ParameterBytesByType.Select(p => $"{p.Key} {p.Value:N0}"))})");
        Console.WriteLine("Ops:");
        foreach (var (op, count) in s.Ops.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal))
            Console.WriteLine($"  {op,-28}{count,6}");
    }
}
