using OnnxPrune.Training;

namespace OnnxPrune.MultiTask;

/// <summary>Where a task's target comes from.</summary>
public enum TaskTargetKind
{
    /// <summary>The data set's class id (int64 [B]).</summary>
    Label,
    /// <summary>A category derived from the class id through a map (int64 [B]).</summary>
    Categories,
    /// <summary>The input image itself, area-averaged to the output's height × width (float [B, C, H, W]).</summary>
    Reconstruction,
}

/// <summary>The metric a task is reported with.</summary>
public enum TaskMetric
{
    /// <summary>Top-1 accuracy of a classification head.</summary>
    Accuracy,
    /// <summary>Mean squared error per element.</summary>
    Mse,
}

/// <summary>A task's target: the class id, a derived category, or a reconstruction of the input.</summary>
/// <param name="Kind">The kind of target.</param>
/// <param name="CategoryNames">For <see cref="TaskTargetKind.Categories"/>: the categories in order (category id = index).</param>
/// <param name="CategoryOfClass">For <see cref="TaskTargetKind.Categories"/>: class id → category id.</param>
/// <param name="Height">For <see cref="TaskTargetKind.Reconstruction"/>: the target's height.</param>
/// <param name="Width">For <see cref="TaskTargetKind.Reconstruction"/>: the target's width.</param>
public sealed record TaskTarget(TaskTargetKind Kind, IReadOnlyList<string>? CategoryNames = null, IReadOnlyDictionary<long, long>? CategoryOfClass = null,
    int Height = 0, int Width = 0)
{
    /// <summary>The class id as the target.</summary>
    public static TaskTarget Label { get; } = new(TaskTargetKind.Label);

    /// <summary>A short description, e.g. "label", "categories(4)", "reconstruction 14×14".</summary>
    public override string ToString() => Kind switch
    {
        TaskTargetKind.Label => "label",
        TaskTargetKind.Categories => $"categories({CategoryNames?.Count ?? 0})",
        _ => $"reconstruction {Height}×{Width}",
    };
}

/// <summary>One task of a multi-task model: its name, the output (head) it reads, its target, loss, weight and metric.</summary>
/// <param name="Name">The task's name (also the key of its target in a <see cref="Data.DataBatch"/>).</param>
/// <param name="Output">The model output the task reads.</param>
/// <param name="Target">Where the target comes from.</param>
/// <param name="Loss">The training loss.</param>
/// <param name="Weight">Weight of the loss in the total.</param>
/// <param name="Metric">The reported metric.</param>
public sealed record TaskSpec(string Name, string Output, TaskTarget Target, LossKind Loss, float Weight, TaskMetric Metric)
{
    /// <summary>The loss of this head for the trainer and evaluator: it reads the target keyed by <see cref="Name"/>.</summary>
    public LossOptions ToLossOptions() => new() { Kind = Loss, Output = Output, Target = Name, Weight = Weight };
}

/// <summary>The tasks of a multi-task model (a <c>*.tasks.yaml</c> file, <see cref="TaskFile"/>).</summary>
/// <param name="Tasks">The tasks in file order.</param>
/// <param name="Source">The file they were read from (for messages); null when built in code.</param>
public sealed record MultiTaskSpec(IReadOnlyList<TaskSpec> Tasks, string? Source = null)
{
    /// <summary>One <see cref="LossOptions"/> per task, in order.</summary>
    public IReadOnlyList<LossOptions> Losses => Tasks.Select(t => t.ToLossOptions()).ToArray();

    /// <summary>Checks that every task's output is an output of <paramref name="model"/>.</summary>
    /// <exception cref="UnsupportedModelException">A task names an output the model lacks (the message lists the outputs).</exception>
    public void EnsureFits(Graph.OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var outputs = model.Graph.Outputs.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var t in Tasks)
            if (!outputs.Contains(t.Output))
                throw new UnsupportedModelException(
                    $"{Source ?? "tasks"}: task '{t.Name}' reads output '{t.Output}', which {model.SourcePath ?? "the model"} lacks (outputs: {string.Join(", ", outputs)}).");
    }
}
