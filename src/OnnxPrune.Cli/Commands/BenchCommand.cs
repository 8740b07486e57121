using System.CommandLine;
using System.Text.Json;
using OnnxPrune.Graph;
using OnnxPrune.Runtime;

namespace OnnxPrune.Cli.Commands;

/// <summary><c>onnxprune bench MODEL</c>: latency and throughput of a model on ONNX Runtime with random inputs.</summary>
internal static class BenchCommand
{
    /// <summary>Builds the verb.</summary>
    public static Command Create()
    {
        var model = new Argument<FileInfo>("model") { Description = "The .onnx model to benchmark." };
        var threads = new Option<int>("--threads") { Description = "Intra-op threads (0: ONNX Runtime's default).", DefaultValueFactory = _ => 1 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed runs first.", DefaultValueFactory = _ => 10 };
        var runs = new Option<int>("--runs") { Description = "Timed runs.", DefaultValueFactory = _ => 100 };
        var dims = new Option<string[]>("--dim")
        {
            Description = "Value of a dynamic dimension: NAME=VALUE (symbolic name, e.g. batch=4) or INPUT:AXIS=VALUE; others are 1.",
            HelpName = "NAME=VALUE",
        };
        var seed = new Option<int>("--seed") { Description = "Seed for the random inputs.", DefaultValueFactory = _ => 42 };
        var spin = new Option<bool>("--spin") { Description = "Let idle ONNX Runtime threads spin (faster on an otherwise idle machine; off by default)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of text." };

        var provider = RunCommand.ProviderOption();
        var command = new Command("bench", "Measure a model's latency (median, p10, p90 in ms) and throughput on ONNX Runtime with random inputs.")
        {
            model, threads, warmup, runs, dims, seed, spin, json, provider,
        };
        command.SetAction(parse => Execute(
            parse.GetValue(model)!, parse.GetValue(threads), parse.GetValue(warmup), parse.GetValue(runs),
            parse.GetValue(dims) ?? [], parse.GetValue(seed), parse.GetValue(spin), parse.GetValue(json), Console.Out,
            RunCommand.ParseProvider(parse.GetValue(provider))));
        return command;
    }

    /// <summary>The verb's work; returns the exit code. Exceptions propagate to <see cref="ExitCodes"/>.</summary>
    public static int Execute(FileInfo model, int threads, int warmup, int runs, string[] dimSpecs, int seed, bool spin, bool json, TextWriter output, ExecutionProvider provider = ExecutionProvider.Cpu)
    {
        if (threads < 0) throw new ArgumentException("--threads must be >= 0.");
        if (runs < 1) throw new ArgumentException("--runs must be >= 1.");
        if (warmup < 0) throw new ArgumentException("--warmup must be >= 0.");
        var options = new SessionSettings { IntraOpThreads = threads, AllowSpinning = spin, Provider = provider };
        using var session = OrtSessions.Create(model.FullName, options);
        var bindings = RandomInputDims(model, session, DimBindings.Parse(dimSpecs));
        var resolved = RandomInputs.Resolve(session.InputMetadata, bindings);
        var inputs = RandomInputs.Create(session.InputMetadata, seed, bindings);
        using var binding = session.CreateBinding(inputs);
        var stats = LatencyBenchmark.Measure(binding.Run, warmup, runs);

        if (json)
        {
            var report = new Dictionary<string, object>
            {
                ["model"] = model.FullName,
                ["threads"] = threads,
                ["spin"] = spin,
                ["provider"] = provider.ToString().ToLowerInvariant(),
                ["warmup"] = warmup,
                ["runs"] = stats.Runs,
                ["medianMs"] = stats.MedianMs,
                ["p10Ms"] = stats.P10Ms,
                ["p90Ms"] = stats.P90Ms,
                ["meanMs"] = stats.MeanMs,
                ["minMs"] = stats.MinMs,
                ["maxMs"] = stats.MaxMs,
                ["throughputPerSec"] = stats.ThroughputPerSecond,
                ["inputs"] = inputs.ToDictionary(p => p.Key, p => p.Value.ToString()),
                ["shapes"] = resolved.Shapes,
                ["defaultedDims"] = resolved.Defaulted,
                ["onnxRuntime"] = OrtSessions.RuntimeVersion,
            };
            output.WriteLine(JsonSerializer.Serialize(report));
        }
        else
        {
            output.WriteLine($"model:      {model.FullName}");
            output.WriteLine($"inputs:     {string.Join(", ", resolved.Shapes.Select(p => $"{p.Key} [{string.Join("×", p.Value)}]"))}");
            if (resolved.Defaulted.Count > 0)
                output.WriteLine($"warning:    dynamic dims timed as 1 because no --dim gave them: {string.Join(", ", resolved.Defaulted)}; the latency is for those sizes (give --dim NAME=VALUE or INPUT:AXIS=VALUE)");
            output.WriteLine($"runtime:    ONNX Runtime {OrtSessions.RuntimeVersion}, {provider.ToString().ToUpperInvariant()}, {threads} intra-op thread(s), spinning {(spin ? "on" : "off")}");
            output.WriteLine($"runs:       {stats.Runs} timed after {warmup} warm-up");
            output.WriteLine(FormattableString.Invariant($"latency:    median {stats.MedianMs:F3} ms, p10 {stats.P10Ms:F3} ms, p90 {stats.P90Ms:F3} ms (min {stats.MinMs:F3}, max {stats.MaxMs:F3})"));
            output.WriteLine(FormattableString.Invariant($"throughput: {stats.ThroughputPerSecond:F1} runs/s"));
        }
        return ExitCodes.Ok;
    }

    /// <summary>The <c>--dim</c> sizes plus the symbolic input dims the model's shape relations tie to them (a mask of
    /// <c>past + seq</c>), so random inputs fit together; sizes that break a relation are a usage error naming it.</summary>
    internal static IReadOnlyDictionary<string, long> RandomInputDims(FileInfo model, Microsoft.ML.OnnxRuntime.InferenceSession session, Dictionary<string, long> given)
    {
        if (!session.InputMetadata.Values.Any(m => m.Dimensions.Any(d => d < 0))) return given;
        var choice = OnnxPrune.Analysis.DimTies.ForRandomInputs(OnnxModel.Load(model.FullName), given);
        if (choice.Violations.Count > 0)
            throw new ArgumentException($"{model.FullName}: the input sizes do not fit together: {string.Join("; ", choice.Violations)}; give consistent --dim values.");
        return choice.Dims;
    }
}
