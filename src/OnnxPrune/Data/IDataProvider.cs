namespace OnnxPrune.Data;

/// <summary>
/// Supplies batches in order: what data-driven importance criteria (activation, Taylor), BN recalibration and evaluation
/// read. Ready-made providers: <see cref="DataProviders"/>; every <see cref="IDataset"/> is one (one pass in order).
/// </summary>
public interface IDataProvider
{
    /// <summary>The batches, in order.</summary>
    IAsyncEnumerable<DataBatch> GetBatchesAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// Task data with random access: a fixed number of samples, each with its inputs and targets, gathered into batches by
/// index (what training shuffles). Implemented by <see cref="ImageDataset"/> (Fashion-MNIST, npy folders, class-subset
/// tasks) and <see cref="TensorDataset"/> (any named inputs and targets, e.g. several task heads).
/// </summary>
public interface IDataset : IDataProvider
{
    /// <summary>Name for messages, e.g. "fashion-mnist/train {0,3,7}".</summary>
    string Name { get; }

    /// <summary>Number of samples.</summary>
    int Count { get; }

    /// <summary>The samples <paramref name="indices"/> as one batch (inputs and targets).</summary>
    DataBatch GetBatch(ReadOnlySpan<int> indices);
}
