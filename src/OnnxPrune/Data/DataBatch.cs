using OnnxPrune.Tensors;

namespace OnnxPrune.Data;

/// <summary>
/// One batch of task data: tensors for the model's data inputs and targets for its heads, each keyed by name, every
/// tensor with the batch on its first axis.
/// </summary>
/// <remarks>
/// Inputs are keyed by the model's input names; a batch with a single input binds to a model with a single data input
/// whatever its key (an <see cref="ImageDataset"/> keys its images <see cref="ImageDataset.InputKey"/> without knowing the
/// model). Targets are keyed by task: a class index head reads int64 [B] (<see cref="ImageDataset.LabelKey"/>), a binary or
/// regression head reads float tensors shaped like its output. A loss names the target it reads
/// (<c>LossOptions.Target</c>); a loss naming none reads the batch's only target.
/// </remarks>
/// <param name="Inputs">Data input name → tensor [B, …].</param>
/// <param name="Targets">Target name → tensor [B, …] (empty for unlabelled data, e.g. activation scoring).</param>
public sealed record DataBatch(IReadOnlyDictionary<string, Tensor> Inputs, IReadOnlyDictionary<string, Tensor> Targets)
{
    private static readonly IReadOnlyDictionary<string, Tensor> None = new Dictionary<string, Tensor>(StringComparer.Ordinal);

    /// <summary>A batch of inputs only.</summary>
    public DataBatch(IReadOnlyDictionary<string, Tensor> inputs) : this(inputs, None) { }

    /// <summary>Samples in the batch (the first axis of the first input).</summary>
    public int Count => Inputs.Count == 0 ? 0 : (int)Inputs.Values.First().Shape[0];

    /// <summary>
    /// The inputs keyed by <paramref name="dataInputs"/> (a model's data input names): by name, or the batch's single input
    /// for a model with a single data input.
    /// </summary>
    /// <exception cref="UnsupportedModelException">An input of the model has no tensor in the batch.</exception>
    public IReadOnlyDictionary<string, Tensor> InputsFor(IReadOnlyList<string> dataInputs)
    {
        ArgumentNullException.ThrowIfNull(dataInputs);
        if (dataInputs.Count == 1 && Inputs.Count == 1 && !Inputs.ContainsKey(dataInputs[0]))
            return new Dictionary<string, Tensor>(StringComparer.Ordinal) { [dataInputs[0]] = Inputs.Values.First() };
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var name in dataInputs)
            result[name] = Inputs.TryGetValue(name, out var t) ? t
                : throw new UnsupportedModelException($"The model's data input '{name}' has no tensor in the batch (it holds {Describe(Inputs)}).");
        return result;
    }

    /// <summary>The target <paramref name="name"/>, or the batch's only target when <paramref name="name"/> is null.</summary>
    /// <exception cref="UnsupportedModelException">No such target (or several and none named).</exception>
    public Tensor Target(string? name)
    {
        if (name is null)
            return Targets.Count == 1 ? Targets.Values.First()
                : throw new UnsupportedModelException($"The loss names no target and the batch holds {Describe(Targets)}; name the target of each loss.");
        return Targets.TryGetValue(name, out var t) ? t
            : throw new UnsupportedModelException($"The loss reads target '{name}' but the batch holds {Describe(Targets)}.");
    }

    private static string Describe(IReadOnlyDictionary<string, Tensor> tensors) =>
        tensors.Count == 0 ? "none" : string.Join(", ", tensors.Select(p => $"'{p.Key}' {p.Value}"));
}
