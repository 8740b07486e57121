using System.Runtime.CompilerServices;
using OnnxPrune.Tensors;

namespace OnnxPrune.Data;

/// <summary>Ready-made <see cref="IDataProvider"/>s.</summary>
public static class DataProviders
{
    /// <summary>Batches held in memory (each: data input name → tensor), without targets.</summary>
    public static IDataProvider FromBatches(IEnumerable<IReadOnlyDictionary<string, Tensor>> batches) =>
        new InMemory((batches ?? throw new ArgumentNullException(nameof(batches))).Select(b => new DataBatch(b)).ToArray());

    /// <summary>Batches held in memory.</summary>
    public static IDataProvider FromBatches(IEnumerable<DataBatch> batches) =>
        new InMemory(batches?.ToArray() ?? throw new ArgumentNullException(nameof(batches)));

    /// <summary>
    /// At most <paramref name="maxBatches"/> batches of <paramref name="batchSize"/> samples of <paramref name="data"/> (0: one
    /// whole pass), in order or seeded-shuffled.
    /// </summary>
    public static IDataProvider FromDataset(IDataset data, int batchSize, int maxBatches = 0, int? shuffleSeed = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBatches);
        return new FromData(data, batchSize, maxBatches, shuffleSeed);
    }

    /// <summary>One pass over <paramref name="data"/> in order, in batches of <paramref name="batchSize"/> (the last may be smaller).</summary>
    public static async IAsyncEnumerable<DataBatch> InOrder(IDataset data, int batchSize, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        for (int start = 0; start < data.Count; start += batchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var indices = Enumerable.Range(start, Math.Min(batchSize, data.Count - start)).ToArray();
            yield return data.GetBatch(indices);
        }
        await Task.CompletedTask.ConfigureAwait(false);
    }

    private sealed class InMemory(DataBatch[] batches) : IDataProvider
    {
        public async IAsyncEnumerable<DataBatch> GetBatchesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            foreach (var b in batches)
            {
                cancellationToken.ThrowIfCancellationRequested();
                yield return b;
            }
            await Task.CompletedTask.ConfigureAwait(false);
        }
    }

    private sealed class FromData(IDataset data, int batchSize, int maxBatches, int? shuffleSeed) : IDataProvider
    {
        public async IAsyncEnumerable<DataBatch> GetBatchesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            var order = Enumerable.Range(0, data.Count).ToArray();
            if (shuffleSeed is int seed) new Random(seed).Shuffle(order);
            int batches = 0;
            for (int start = 0; start < order.Length && (maxBatches == 0 || batches < maxBatches); start += batchSize, batches++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                yield return data.GetBatch(order.AsSpan(start, Math.Min(batchSize, order.Length - start)));
            }
            await Task.CompletedTask.ConfigureAwait(false);
        }
    }
}
