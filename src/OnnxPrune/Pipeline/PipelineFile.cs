using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace OnnxPrune.Pipeline;

/// <summary>A pipeline file is not valid YAML or not a valid pipeline; the message names the file, line and column.</summary>
public class PipelineFormatException : OnnxPruneException
{
    /// <summary>Creates the exception.</summary>
    public PipelineFormatException(string path, long line, long column, string reason, Exception? inner = null)
        : base($"{path}:{line}:{column}: {reason}", inner)
    {
        Path = path;
        Line = line;
        Column = column;
        Reason = reason;
    }

    /// <summary>The pipeline file.</summary>
    public string Path { get; }
    /// <summary>1-based line of the fault.</summary>
    public long Line { get; }
    /// <summary>1-based column of the fault.</summary>
    public long Column { get; }
    /// <summary>What is wrong.</summary>
    public string Reason { get; }
}

/// <summary>Reads pipeline files (YamlDotNet, snake_case keys; unknown keys are errors).</summary>
public static class PipelineFile
{
    private static readonly IDeserializer Deserializer = new DeserializerBuilder()
        .WithNamingConvention(UnderscoredNamingConvention.Instance)
        .WithNodeDeserializer(inner => new PositionRecorder(inner), s => s.InsteadOf<YamlDotNet.Serialization.NodeDeserializers.ObjectNodeDeserializer>())
        .Build();

    /// <summary>Reads and checks <paramref name="path"/>; relative paths in it resolve against its folder.</summary>
    /// <exception cref="PipelineFormatException">Bad YAML, an unknown key, a wrong type, or a bad step list (file, line, column).</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    public static PipelineDefinition Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = System.IO.Path.GetFullPath(path);
        return Parse(File.ReadAllText(full), full);
    }

    /// <summary>Parses pipeline YAML; <paramref name="path"/> names it in errors and gives the folder relative paths resolve against.</summary>
    /// <exception cref="PipelineFormatException">Bad YAML, an unknown key, a wrong type, or a bad step list (file, line, column).</exception>
    public static PipelineDefinition Parse(string yaml, string path)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        ArgumentException.ThrowIfNullOrEmpty(path);
        PipelineDefinition? definition;
        try
        {
            definition = Deserializer.Deserialize<PipelineDefinition?>(yaml);
        }
        catch (YamlException e)
        {
            // The innermost exception says what is wrong; the outer ones carry the position.
            var reason = e.Message;
            for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
                if (!string.IsNullOrWhiteSpace(inner.Message) && inner is not YamlException) reason = inner.Message;
                else if (inner is YamlException y && !string.IsNullOrWhiteSpace(y.Message)) reason = y.Message;
            throw new PipelineFormatException(path, e.Start.Line, e.Start.Column, Clean(reason), e);
        }
        if (definition is null) throw new PipelineFormatException(path, 1, 1, "the file is empty; expected keys model, steps and gates.");
        definition.SourcePath = path;
        definition.BaseDirectory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)) ?? ".";
        Check(definition, path);
        Resolve(definition);
        return definition;
    }

    /// <summary>The order steps must come in (each at most once); <c>prune</c> may be left out, as may any step.</summary>
    public static IReadOnlyList<string> StepOrder { get; } = ["prune", "finetune", "export", "evaluate"];

    private static void Check(PipelineDefinition d, string path)
    {
        if (string.IsNullOrWhiteSpace(d.Model)) throw new PipelineFormatException(path, 1, 1, "missing key 'model' (the source ONNX model).");
        int last = -1;
        foreach (var entry in d.Steps)
        {
            var (line, column) = entry.Position;
            var named = entry.Named().ToList();
            if (named.Count != 1)
                throw new PipelineFormatException(path, line, column,
                    $"each step entry names exactly one step ({string.Join(", ", StepOrder)}); this one names {(named.Count == 0 ? "none" : string.Join(" and ", named.Select(n => n.Name)))}.");
            int at = StepOrder.ToList().IndexOf(named[0].Name);
            if (at <= last)
                throw new PipelineFormatException(path, line, column, $"step '{named[0].Name}' is out of order or repeated; steps run in the order {string.Join(" → ", StepOrder)}, each at most once.");
            last = at;
        }
        if (d.Steps.Count == 0) throw new PipelineFormatException(path, 1, 1, "missing key 'steps' (at least one of prune, finetune, export, evaluate).");
        if (d.Gates is { } g && (g.MaxAccuracyDrop < 0 || g.MinSpeedup <= 0 || g.MaxBytes <= 0 || g.MaxLatencyMs <= 0))
            throw new PipelineFormatException(path, 1, 1, "gates must be positive (max_accuracy_drop may be 0).");
    }

    // Relative paths → against the file's folder; step data and classes default to the pipeline's.
    private static void Resolve(PipelineDefinition d)
    {
        d.Model = ResolvePath(d.BaseDirectory, d.Model)!;
        d.Data = ResolveData(d.BaseDirectory, d.Data)!;
        foreach (var entry in d.Steps)
        {
            if (entry.Prune is { } p) { p.Scores = ResolvePath(d.BaseDirectory, p.Scores); p.Data = ResolveData(d.BaseDirectory, p.Data); }
            if (entry.Finetune is { } f)
            {
                f.Data = ResolveData(d.BaseDirectory, f.Data) ?? d.Data;
                f.Classes ??= [.. d.Classes];
                if (f.Teacher is not null && f.Teacher != "source") f.Teacher = ResolvePath(d.BaseDirectory, f.Teacher);
            }
            if (entry.Export is { } x)
            {
                x.Classes ??= [.. d.Classes];
                x.Calibrate = x.Int8 && !x.Dynamic ? ResolveData(d.BaseDirectory, x.Calibrate) ?? d.Data : ResolveData(d.BaseDirectory, x.Calibrate);
                x.Check = ResolveData(d.BaseDirectory, x.Check);
            }
            if (entry.Evaluate is { } e)
            {
                e.Data = ResolveData(d.BaseDirectory, e.Data) ?? d.Data;
                e.Classes ??= [.. d.Classes];
            }
        }
    }

    private static string? ResolvePath(string baseDir, string? path) =>
        string.IsNullOrEmpty(path) ? path : System.IO.Path.GetFullPath(System.IO.Path.Combine(baseDir, path));

    // "npy:FOLDER" and "fashion-mnist:FOLDER": the folder resolves against the pipeline file's folder.
    private static string? ResolveData(string baseDir, string? spec)
    {
        if (string.IsNullOrEmpty(spec)) return spec;
        int colon = spec.IndexOf(':');
        if (colon < 0 || colon == spec.Length - 1) return spec;
        return spec[..(colon + 1)] + ResolvePath(baseDir, spec[(colon + 1)..]);
    }

    private static string Clean(string reason)
    {
        reason = reason.Replace("\r", " ", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal).Trim();
        // YamlDotNet names the CLR type; say which section the unknown key is in and what the keys are.
        var unknown = System.Text.RegularExpressions.Regex.Match(reason, @"^Property '(?<key>[^']+)' not found on type '(?:[\w.]+\.)?(?<type>\w+)'");
        if (!unknown.Success) return reason;
        var section = unknown.Groups["type"].Value switch
        {
            "PipelineDefinition" => "the pipeline (keys: model, data, classes, steps, gates)",
            "PipelineStepEntry" => $"the step list (steps: {string.Join(", ", StepOrder)})",
            "PipelineGates" => "gates (keys: max_accuracy_drop, min_speedup, max_bytes, max_latency_ms)",
            var t when t.EndsWith("StepOptions", StringComparison.Ordinal) => $"step '{t[..^"StepOptions".Length].ToLowerInvariant()}' (keys are the verb's options in snake_case)",
            var t => t,
        };
        return $"unknown key '{unknown.Groups["key"].Value}' in {section}.";
    }

    // Records where each step entry starts, for the step-list errors that come after deserialisation.
    private sealed class PositionRecorder(INodeDeserializer inner) : INodeDeserializer
    {
        public bool Deserialize(IParser reader, Type expectedType, Func<IParser, Type, object?> nestedObjectDeserializer, out object? value, ObjectDeserializer rootDeserializer)
        {
            var start = reader.Current?.Start;
            bool done = inner.Deserialize(reader, expectedType, nestedObjectDeserializer, out value, rootDeserializer);
            if (done && value is PipelineStepEntry entry && start is { } mark) entry.Position = (mark.Line, mark.Column);
            return done;
        }
    }
}
