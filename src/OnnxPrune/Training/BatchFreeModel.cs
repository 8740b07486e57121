using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Graph.Passes;

namespace OnnxPrune.Training;

/// <summary>
/// Batch-free copies of fixed-batch exports, for training and evaluation at any batch size: the shape engine declares
/// the intermediates' shapes, then <see cref="SymbolicBatchPass"/> makes the batch symbolic and rewrites the Reshape
/// targets that hard-code it. The caller's model is never modified.
/// </summary>
public static class BatchFreeModel
{
    /// <summary>
    /// <paramref name="model"/> itself when its data inputs have no fixed batch (or it equals <paramref name="batch"/>);
    /// otherwise a batch-free copy.
    /// </summary>
    /// <exception cref="UnsupportedModelException">A constant hard-codes the batch where no exact rewrite exists (the message names the node).</exception>
    public static OnnxModel For(OnnxModel model, int batch)
    {
        ArgumentNullException.ThrowIfNull(model);
        var fixedBatch = SymbolicBatchPass.FixedBatch(model);
        return fixedBatch is null || fixedBatch == batch ? model : Copy(model);
    }

    /// <summary>A batch-free copy of <paramref name="model"/> (a plain copy when its batch is already symbolic).</summary>
    /// <exception cref="UnsupportedModelException">A constant hard-codes the batch where no exact rewrite exists (the message names the node).</exception>
    public static OnnxModel Copy(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var copy = OnnxModel.FromBytes(model.ToBytes(), model.SourcePath ?? "model");
        if (SymbolicBatchPass.FixedBatch(copy) is null) return copy;
        ShapeInference.Infer(copy.Graph, copy.GetOpset("")).WriteTo(copy.Graph);
        new SymbolicBatchPass().Run(copy);
        return copy;
    }

    /// <summary>
    /// The largest batch <paramref name="model"/> accepts up to <paramref name="wanted"/>: its fixed batch when it has one,
    /// else <paramref name="wanted"/>.
    /// </summary>
    public static int MaxBatch(OnnxModel model, int wanted) =>
        SymbolicBatchPass.FixedBatch(model) is long n ? (int)Math.Min(n, wanted) : wanted;
}
