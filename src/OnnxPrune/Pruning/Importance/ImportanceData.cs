using System.Runtime.CompilerServices;
using OnnxPrune.Tensors;

namespace OnnxPrune.Pruning.Importance;

/// <summary>Ready-made <see cref="IImportanceDataProvider"/>s.</summary>
public static class ImportanceData
{
    /// <summary>Batches held in memory (each: data input name → tensor).</summary>
    public static IImportanceDataProvider FromBatches(IEnumerable<IReadOnlyDictionary<string, Tensor>> batches) =>
        new InMemory(batches?.ToArray() ?? throw new ArgumentNullException(nameof(batches)));

    private sealed class InMemory(IReadOnlyDictionary<string, Tensor>[] batches) : IImportanceDataProvider
    {
        public async IAsyncEnumerable<IReadOnlyDictionary<string, Tensor>> GetBatchesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            foreach (var b in batches)
            {
                cancellationToken.ThrowIfCancellationRequested();
                yield return b;
            }
            await Task.CompletedTask.ConfigureAwait(false);
        }
    }
}
