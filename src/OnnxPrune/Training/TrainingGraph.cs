using OnnxPrune.Graph;

namespace OnnxPrune.Training;

/// <summary>A trainable tensor: a forward-model constant turned into a training-graph input with a gradient output.</summary>
/// <param name="Name">The constant's name in the forward model, also the training graph's input name.</param>
/// <param name="GradientName">The training graph output holding dLoss/dTensor.</param>
/// <param name="Shape">The tensor's shape.</param>
public sealed record TrainableParameter(string Name, string GradientName, long[] Shape)
{
    /// <summary>Number of elements.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>The batch statistics a BatchNormalization layer reports in <see cref="BatchNormMode.BatchStatistics"/> mode.</summary>
/// <param name="Node">The BN node's name in the forward model.</param>
/// <param name="MeanName">The forward model's running-mean constant.</param>
/// <param name="VarianceName">The forward model's running-variance constant.</param>
/// <param name="MeanOutput">Training graph output with the batch mean [C].</param>
/// <param name="VarianceOutput">Training graph output with the (biased) batch variance [C].</param>
/// <param name="Momentum">The node's momentum attribute: running = running·m + batch·(1−m) (ONNX convention).</param>
/// <param name="ElementsPerChannel">Elements averaged per channel (N·H·W), for the unbiased variance.</param>
public sealed record BatchNormStatistics(string Node, string MeanName, string VarianceName, string MeanOutput, string VarianceOutput, float Momentum, long ElementsPerChannel);

/// <summary>One loss head of a training graph.</summary>
/// <param name="Output">The forward model's output it applies to.</param>
/// <param name="Loss">Its loss settings.</param>
/// <param name="TargetInput">The training graph input for its target (int64 [B] class ids, or float shaped like the output).</param>
/// <param name="LossOutput">The training graph output with this head's (unweighted) scalar loss.</param>
/// <param name="CorrectOutput">The scalar float count of correct top-1 predictions (cross-entropy heads), or null.</param>
/// <param name="TeacherInput">The teacher-logits input when this head distils, or null.</param>
public sealed record TrainingHead(string Output, LossOptions Loss, string TargetInput, string LossOutput, string? CorrectOutput, string? TeacherInput);

/// <summary>
/// The output of <see cref="GradientBuilder"/>: a standard-op ONNX model with a fixed batch size whose inputs are the data,
/// the targets (and teacher logits) and the trainable tensors, and whose outputs are the loss, the number of correct
/// predictions (classification), the gradient of each trainable tensor and, in batch-statistics mode, BN batch statistics.
/// </summary>
public sealed class TrainingGraph
{
    internal TrainingGraph(OnnxModel model, int batchSize, IReadOnlyList<string> dataInputs, string targetInput, string? teacherInput,
        string lossOutput, string? correctOutput, IReadOnlyList<TrainableParameter> parameters, IReadOnlyList<BatchNormStatistics> batchNorm,
        IReadOnlyList<TrainingHead> heads)
    {
        Heads = heads;
        Model = model;
        BatchSize = batchSize;
        DataInputs = dataInputs;
        TargetInput = targetInput;
        TeacherInput = teacherInput;
        LossOutput = lossOutput;
        CorrectOutput = correctOutput;
        Parameters = parameters;
        BatchNorm = batchNorm;
    }

    /// <summary>The training model.</summary>
    public OnnxModel Model { get; }

    /// <summary>The fixed batch size.</summary>
    public int BatchSize { get; }

    /// <summary>The forward model's data inputs (same names).</summary>
    public IReadOnlyList<string> DataInputs { get; }

    /// <summary>The loss heads (one per trained output); the first is the one <see cref="TargetInput"/>, <see cref="TeacherInput"/> and <see cref="CorrectOutput"/> describe.</summary>
    public IReadOnlyList<TrainingHead> Heads { get; }

    /// <summary>The first head's labels (int64 [B]) or targets (float, shaped like the output) input.</summary>
    public string TargetInput { get; }

    /// <summary>The teacher-logits input for distillation, or null.</summary>
    public string? TeacherInput { get; }

    /// <summary>The scalar total loss output (Σ weight·head loss).</summary>
    public string LossOutput { get; }

    /// <summary>The scalar float count of correct top-1 predictions of the first cross-entropy head, or null.</summary>
    public string? CorrectOutput { get; }

    /// <summary>The trainable tensors, in forward-model constant order.</summary>
    public IReadOnlyList<TrainableParameter> Parameters { get; }

    /// <summary>BN batch statistics outputs (empty unless <see cref="BatchNormMode.BatchStatistics"/>).</summary>
    public IReadOnlyList<BatchNormStatistics> BatchNorm { get; }
}
