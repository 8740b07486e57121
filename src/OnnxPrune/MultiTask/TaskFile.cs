using System.Globalization;
using OnnxPrune.Training;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace OnnxPrune.MultiTask;

/// <summary>A tasks file is malformed: bad YAML, a missing or unknown key, a bad value. The message names the file, line and column.</summary>
public sealed class TaskFileException : OnnxPruneException
{
    /// <summary>Creates the exception.</summary>
    public TaskFileException(string file, long line, long column, string reason, Exception? inner = null)
        : base($"{file}:{line}:{column}: {reason}", inner)
    {
        File = file;
        Line = line;
        Column = column;
    }

    /// <summary>The tasks file.</summary>
    public string File { get; }

    /// <summary>1-based line of the fault.</summary>
    public long Line { get; }

    /// <summary>1-based column of the fault.</summary>
    public long Column { get; }
}

/// <summary>
/// Reads the tasks of a multi-task model from YAML (<c>onnx-models/fmnist-multitask.tasks.yaml</c>):
/// <code>
/// tasks:
///   - name: class              # the task, and the key of its target
///     output: logits           # the model output it reads
///     target: label            # label | {categories: {NAME: [class ids], …}} | {reconstruction: [H, W]}
///     loss: cross-entropy      # cross-entropy | mse | l1 | bce
///     weight: 1.0              # optional, default 1
///     metric: accuracy         # optional: accuracy (cross-entropy) | mse (others)
/// </code>
/// </summary>
public static class TaskFile
{
    /// <summary>Reads and checks <paramref name="path"/>.</summary>
    /// <exception cref="TaskFileException">The file is malformed (line and column named).</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    public static MultiTaskSpec Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!System.IO.File.Exists(path)) throw new FileNotFoundException($"Tasks file '{path}' does not exist.", path);
        return Parse(System.IO.File.ReadAllText(path), path);
    }

    /// <summary>Parses YAML text; <paramref name="source"/> names it in messages.</summary>
    /// <exception cref="TaskFileException">The text is malformed (line and column named).</exception>
    public static MultiTaskSpec Parse(string yaml, string source = "tasks")
    {
        ArgumentNullException.ThrowIfNull(yaml);
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            throw new TaskFileException(source, e.Start.Line, e.Start.Column, $"bad YAML: {e.Message}", e);
        }
        if (stream.Documents.Count == 0) throw new TaskFileException(source, 1, 1, "the file is empty; expected a 'tasks:' list.");
        var root = stream.Documents[0].RootNode;
        var top = Map(source, root, "the document");
        foreach (var key in top.Children.Keys)
            if (Text(source, key, "key") is not ("tasks" or "version"))
                throw Fail(source, key, $"unknown key '{Text(source, key, "key")}' (expected 'tasks' and optionally 'version').");
        if (Find(top, "version") is { } version && Text(source, version, "version") != "1")
            throw Fail(source, version, $"version {Text(source, version, "version")} is not supported (1 is).");
        var list = Find(top, "tasks") as YamlSequenceNode ?? throw Fail(source, Find(top, "tasks") ?? root, "'tasks' must be a list of tasks.");
        if (list.Children.Count == 0) throw Fail(source, list, "'tasks' is empty.");
        var tasks = new List<TaskSpec>();
        foreach (var node in list.Children)
        {
            var task = ParseTask(source, Map(source, node, "a task"));
            if (tasks.Any(t => t.Name == task.Name)) throw Fail(source, node, $"task '{task.Name}' is defined twice.");
            tasks.Add(task);
        }
        return new MultiTaskSpec(tasks, source);
    }

    private static readonly string[] TaskKeys = ["name", "output", "target", "loss", "weight", "metric"];

    private static TaskSpec ParseTask(string source, YamlMappingNode map)
    {
        foreach (var key in map.Children.Keys)
            if (!TaskKeys.Contains(Text(source, key, "key")))
                throw Fail(source, key, $"unknown task key '{Text(source, key, "key")}' (expected {string.Join(", ", TaskKeys)}).");
        string name = Text(source, Require(source, map, "name"), "name");
        string output = Text(source, Require(source, map, "output"), "output");
        var lossNode = Require(source, map, "loss");
        var loss = Text(source, lossNode, "loss") switch
        {
            "cross-entropy" or "ce" => LossKind.SoftmaxCrossEntropy,
            "mse" => LossKind.MeanSquaredError,
            "l1" => LossKind.L1,
            "bce" => LossKind.BinaryCrossEntropy,
            var other => throw Fail(source, lossNode, $"task '{name}': unknown loss '{other}' (cross-entropy, mse, l1, bce)."),
        };
        float weight = 1f;
        if (Find(map, "weight") is { } w)
            if (!float.TryParse(Text(source, w, "weight"), NumberStyles.Float, CultureInfo.InvariantCulture, out weight) || !(weight >= 0) || !float.IsFinite(weight))
                throw Fail(source, w, $"task '{name}': weight '{Text(source, w, "weight")}' is not a finite number ≥ 0.");
        var target = ParseTarget(source, name, Require(source, map, "target"));
        bool classifies = loss == LossKind.SoftmaxCrossEntropy;
        if (classifies != (target.Kind != TaskTargetKind.Reconstruction))
            throw Fail(source, map["target"], $"task '{name}': a {Text(source, lossNode, "loss")} loss cannot read a {target} target (cross-entropy reads a label or categories; mse, l1 and bce a reconstruction).");
        var metric = classifies ? TaskMetric.Accuracy : TaskMetric.Mse;
        if (Find(map, "metric") is { } m)
        {
            metric = Text(source, m, "metric") switch
            {
                "accuracy" when classifies => TaskMetric.Accuracy,
                "mse" when !classifies => TaskMetric.Mse,
                var other => throw Fail(source, m, $"task '{name}': metric '{other}' does not fit a {Text(source, lossNode, "loss")} loss (accuracy for cross-entropy, mse otherwise)."),
            };
        }
        return new TaskSpec(name, output, target, loss, weight, metric);
    }

    private static TaskTarget ParseTarget(string source, string task, YamlNode node)
    {
        if (node is YamlScalarNode s)
            return s.Value == "label" ? TaskTarget.Label
                : throw Fail(source, node, $"task '{task}': unknown target '{s.Value}' (label, {{categories: …}} or {{reconstruction: [H, W]}}).");
        var map = Map(source, node, "a target");
        if (map.Children.Count != 1) throw Fail(source, node, $"task '{task}': a target is 'label', {{categories: …}} or {{reconstruction: [H, W]}}.");
        var (keyNode, value) = map.Children.First();
        switch (Text(source, keyNode, "target"))
        {
            case "categories":
            {
                var categories = Map(source, value, "categories (NAME: [class ids])");
                var names = new List<string>();
                var ofClass = new Dictionary<long, long>();
                foreach (var (catKey, ids) in categories.Children)
                {
                    names.Add(Text(source, catKey, "category"));
                    if (ids is not YamlSequenceNode seq || seq.Children.Count == 0)
                        throw Fail(source, ids, $"task '{task}': category '{names[^1]}' needs a non-empty list of class ids.");
                    foreach (var id in seq.Children)
                    {
                        if (!long.TryParse(Text(source, id, "class id"), NumberStyles.Integer, CultureInfo.InvariantCulture, out long c) || c < 0)
                            throw Fail(source, id, $"task '{task}': '{Text(source, id, "class id")}' is not a class id (an integer ≥ 0).");
                        if (!ofClass.TryAdd(c, names.Count - 1))
                            throw Fail(source, id, $"task '{task}': class {c} is in two categories.");
                    }
                }
                if (names.Count < 2) throw Fail(source, value, $"task '{task}': at least two categories are needed.");
                return new TaskTarget(TaskTargetKind.Categories, names, ofClass);
            }
            case "reconstruction":
            {
                if (value is not YamlSequenceNode size || size.Children.Count != 2)
                    throw Fail(source, value, $"task '{task}': reconstruction takes [height, width].");
                int Dim(YamlNode n) => int.TryParse(Text(source, n, "size"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int d) && d > 0 ? d
                    : throw Fail(source, n, $"task '{task}': '{Text(source, n, "size")}' is not a positive size.");
                return new TaskTarget(TaskTargetKind.Reconstruction, Height: Dim(size.Children[0]), Width: Dim(size.Children[1]));
            }
            case var other:
                throw Fail(source, keyNode, $"task '{task}': unknown target '{other}' (label, categories or reconstruction).");
        }
    }

    private static YamlMappingNode Map(string source, YamlNode node, string what) =>
        node as YamlMappingNode ?? throw Fail(source, node, $"expected {what} as a mapping (key: value).");

    private static YamlNode? Find(YamlMappingNode map, string key) => map.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v : null;

    private static YamlNode Require(string source, YamlMappingNode map, string key) =>
        Find(map, key) ?? throw Fail(source, map, $"the task lacks '{key}'.");

    private static string Text(string source, YamlNode node, string what) =>
        node is YamlScalarNode { Value: { Length: > 0 } v } ? v : throw Fail(source, node, $"{what} must be a non-empty scalar.");

    private static TaskFileException Fail(string source, YamlNode node, string reason) => new(source, node.Start.Line, node.Start.Column, reason);
}
