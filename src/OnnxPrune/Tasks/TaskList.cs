using System.Globalization;

namespace OnnxPrune.Tasks;

/// <summary>One task of a task list: its 0-based index among the list's tasks (what shards split on), its line, and
/// what it asks for.</summary>
/// <param name="Index">0-based index among the tasks of the list (blank and comment lines do not count).</param>
/// <param name="Line">1-based line number in the file.</param>
/// <param name="Classes">The classes, in the order given (the task's logit order).</param>
/// <param name="Label">An optional label (the rest of the line after the classes).</param>
public sealed record TaskSpec(int Index, int Line, IReadOnlyList<int> Classes, string? Label)
{
    /// <summary>The descriptor of this task on a data set.</summary>
    public TaskDescriptor ToDescriptor(string dataSet) => new() { DataSet = dataSet, Classes = Classes, Label = Label };
}

/// <summary>
/// The task list <c>library fill --tasks TASKS.txt</c> reads: one task per line, the comma-separated class ids first,
/// then optionally whitespace and a label; <c>#</c> starts a comment; blank lines are ignored. Example:
/// <code>
/// # 3-class Fashion-MNIST tasks
/// 0,3,7
/// 1,2,9   bags-and-boots
/// </code>
/// </summary>
public static class TaskList
{
    /// <summary>Reads a task list file.</summary>
    /// <exception cref="TaskListFormatException">A line is malformed (names the file and line), or the list is empty.</exception>
    /// <exception cref="TaskLibraryException">The file cannot be read.</exception>
    public static IReadOnlyList<TaskSpec> Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TaskLibraryException($"{path}: cannot read the task list: {e.Message}", path, e);
        }
        return Parse(text, path);
    }

    /// <summary>Parses task-list text; <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="TaskListFormatException">A line is malformed, a task repeats an earlier one (same class set
    /// and label), or there is no task.</exception>
    public static IReadOnlyList<TaskSpec> Parse(string text, string source = "<tasks>")
    {
        ArgumentNullException.ThrowIfNull(text);
        var tasks = new List<TaskSpec>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var lines = text.Split('\n');
        for (int n = 0; n < lines.Length; n++)
        {
            var line = lines[n];
            int hash = line.IndexOf('#');
            if (hash >= 0) line = line[..hash];
            line = line.Trim();
            if (line.Length == 0) continue;
            int space = line.IndexOfAny([' ', '\t']);
            var classText = space < 0 ? line : line[..space];
            var label = space < 0 ? null : line[(space + 1)..].Trim();
            var classes = new List<int>();
            foreach (var part in classText.Split(','))
            {
                if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int c))
                    throw new TaskListFormatException($"{source}:{n + 1}: '{part}' is not a class id (expected e.g. 0,3,7 [label]).", source, n + 1);
                if (classes.Contains(c))
                    throw new TaskListFormatException($"{source}:{n + 1}: class {c} is listed twice.", source, n + 1);
                classes.Add(c);
            }
            var key = string.Join(",", classes.Order()) + "|" + label;
            if (seen.TryGetValue(key, out int earlier))
                throw new TaskListFormatException($"{source}:{n + 1}: the same task as line {earlier} (class order does not make a new task).", source, n + 1);
            seen[key] = n + 1;
            tasks.Add(new TaskSpec(tasks.Count, n + 1, classes, string.IsNullOrEmpty(label) ? null : label));
        }
        if (tasks.Count == 0) throw new TaskListFormatException($"{source}: no tasks (one line per task: class ids, e.g. 0,3,7).", source);
        return tasks;
    }
}
