using OnnxPrune.Data;
using OnnxPrune.Tensors;

namespace OnnxPrune.Training;

/// <summary>
/// Copies a <see cref="DataBatch"/> into a training graph's bound input buffers: the data inputs (a single batch input binds
/// to the single data input whatever its key) and each head's target (the one its <see cref="LossOptions.Target"/> names),
/// checking element type and size so a mismatch is an error naming the head and the target, not a garbled step.
/// </summary>
internal sealed class HeadFeeder(TrainingGraph graph, IReadOnlyDictionary<string, Tensor> bound)
{
    /// <summary>Copies the batch in; returns the tensor fed to the first data input.</summary>
    public Tensor Feed(DataBatch batch, string dataName)
    {
        Tensor? first = null;
        foreach (var (name, tensor) in batch.InputsFor(graph.DataInputs))
        {
            Copy(tensor, bound[name], $"{dataName}: input '{name}'");
            first ??= tensor;
        }
        foreach (var head in graph.Heads)
        {
            var target = batch.Target(head.Loss.Target);
            var into = bound[head.TargetInput];
            if (target.ElementType != into.ElementType)
                throw new UnsupportedModelException(
                    $"{dataName}: the {head.Loss.Kind} head on output '{head.Output}' needs {ElementTypes.OnnxName(into.ElementType)} targets {into}; " +
                    $"target '{head.Loss.Target ?? "(the only one)"}' is {target}.");
            Copy(target, into, $"{dataName}: target '{head.Loss.Target ?? "(the only one)"}' of output '{head.Output}'");
        }
        return first!;
    }

    private static void Copy(Tensor from, Tensor into, string what)
    {
        if (from.RawData.Length != into.RawData.Length || from.ElementType != into.ElementType)
            throw new UnsupportedModelException($"{what} is {from}; the training graph expects {into}.");
        from.RawData.CopyTo(into.RawData, 0);
    }
}
