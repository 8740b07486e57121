using OnnxPrune.Tensors;

namespace OnnxPrune.Data;

/// <summary>
/// In-memory task data of any shape: named input tensors and named target tensors, all with the samples on their first
/// axis (e.g. images [N, 1, 28, 28] with targets "class" int64 [N], "coarse" int64 [N] and "reconstruction" float
/// [N, 1, 14, 14] for a model with three heads).
/// </summary>
public sealed class TensorDataset : IDataset
{
    private readonly Dictionary<string, Tensor> _inputs;
    private readonly Dictionary<string, Tensor> _targets;

    /// <summary>Wraps the tensors (not copied).</summary>
    /// <exception cref="ArgumentException">No input, or the tensors disagree on the sample count.</exception>
    public TensorDataset(string name, IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyDictionary<string, Tensor> targets)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        if (inputs.Count == 0) throw new ArgumentException($"{name}: at least one input is needed.", nameof(inputs));
        Name = name;
        _inputs = new Dictionary<string, Tensor>(inputs, StringComparer.Ordinal);
        _targets = new Dictionary<string, Tensor>(targets, StringComparer.Ordinal);
        long n = -1;
        foreach (var (key, t) in _inputs.Concat(_targets))
        {
            if (t.Rank == 0) throw new ArgumentException($"{name}: '{key}' is a scalar; samples go on the first axis.", nameof(inputs));
            if (n >= 0 && t.Shape[0] != n) throw new ArgumentException($"{name}: '{key}' has {t.Shape[0]} samples, others {n}.", nameof(inputs));
            n = t.Shape[0];
        }
        Count = checked((int)n);
    }

    /// <summary>
    /// Every sample of <paramref name="data"/> in memory (e.g. an <see cref="ImageDataset"/>: input <c>image</c>, target
    /// <c>label</c>), so targets for more heads can be added with <see cref="WithTarget"/>.
    /// </summary>
    public static TensorDataset From(IDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var all = data.GetBatch(Enumerable.Range(0, data.Count).ToArray());
        return new TensorDataset(data.Name, all.Inputs, all.Targets);
    }

    /// <summary>A copy with one more target (or a replaced one), e.g. a derived coarse label or a reconstruction target.</summary>
    /// <exception cref="ArgumentException">The target's first axis is not the sample count.</exception>
    public TensorDataset WithTarget(string name, Tensor target)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(target);
        var targets = new Dictionary<string, Tensor>(_targets, StringComparer.Ordinal) { [name] = target };
        return new TensorDataset(Name, _inputs, targets);
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public int Count { get; }

    /// <summary>The input tensors [N, …].</summary>
    public IReadOnlyDictionary<string, Tensor> Inputs => _inputs;

    /// <summary>The target tensors [N, …].</summary>
    public IReadOnlyDictionary<string, Tensor> Targets => _targets;

    /// <inheritdoc/>
    public DataBatch GetBatch(ReadOnlySpan<int> indices)
    {
        var inputs = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (k, t) in _inputs) inputs[k] = Rows(t, indices);
        var targets = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (k, t) in _targets) targets[k] = Rows(t, indices);
        return new DataBatch(inputs, targets);
    }

    /// <inheritdoc/>
    public IAsyncEnumerable<DataBatch> GetBatchesAsync(CancellationToken cancellationToken = default) => DataProviders.InOrder(this, 64, cancellationToken);

    private Tensor Rows(Tensor t, ReadOnlySpan<int> indices)
    {
        int row = Count == 0 ? 0 : t.RawData.Length / Count;
        var bytes = new byte[(long)row * indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            if ((uint)indices[i] >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(indices), indices[i], $"{Name} has {Count} samples.");
            Array.Copy(t.RawData, (long)indices[i] * row, bytes, (long)i * row, row);
        }
        var shape = t.Dims.ToArray();
        shape[0] = indices.Length;
        return new Tensor(t.ElementType, shape, bytes);
    }
}
