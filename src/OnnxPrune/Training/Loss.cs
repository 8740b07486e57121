namespace OnnxPrune.Training;

/// <summary>The training objective applied to one output (head) of a model.</summary>
public enum LossKind
{
    /// <summary>Softmax cross-entropy against int64 class labels [B] (optionally label-smoothed); logits [B, K].</summary>
    SoftmaxCrossEntropy,
    /// <summary>Mean squared error against float targets shaped like the output.</summary>
    MeanSquaredError,
    /// <summary>Mean absolute error against float targets shaped like the output.</summary>
    L1,
    /// <summary>Binary cross-entropy on logits (sigmoid inside) against float targets in [0, 1] shaped like the output.</summary>
    BinaryCrossEntropy,
    /// <summary>
    /// Label-free distillation of logits [B, K]: T²·KL(softmax(t/T) ‖ softmax(z/T)) per sample against a float target t
    /// holding a teacher's logits (temperature <see cref="LossOptions.Temperature"/>).
    /// </summary>
    KLDivergence,
}

/// <summary>How BatchNormalization layers behave while training.</summary>
public enum BatchNormMode
{
    /// <summary>Running statistics stay fixed; BN is an affine map whose γ and β train (the usual choice for fine-tuning).</summary>
    Frozen,
    /// <summary>
    /// Normalize with the statistics of each batch (as when training from scratch); the training graph outputs the batch
    /// mean and variance per BN layer and the trainer folds them into the running statistics with a momentum.
    /// </summary>
    BatchStatistics,
}

/// <summary>
/// The loss of one output (head) of a model: which output, which loss, its weight in the total, and which target of the
/// batch it reads. A model with several heads trains on a list of these (<see cref="TrainerOptions.Losses"/>,
/// <see cref="GradientBuilderOptions.Losses"/>): total = Σ Weight·loss; each head's loss is also reported alone.
/// Distillation is a cross-entropy head with <see cref="DistillationWeight"/> &gt; 0 (one head at most).
/// </summary>
public sealed record LossOptions
{
    /// <summary>Which loss (default softmax cross-entropy).</summary>
    public LossKind Kind { get; init; } = LossKind.SoftmaxCrossEntropy;

    /// <summary>Label smoothing ε for cross-entropy: targets (1−ε)·onehot + ε/K.</summary>
    public float LabelSmoothing { get; init; }

    /// <summary>
    /// Knowledge distillation: when &gt; 0 the graph takes a teacher's logits as an input and the loss is
    /// (1−w)·CE + w·T²·KL(softmax(t/T) ‖ softmax(z/T)) with this weight w (cross-entropy only).
    /// </summary>
    public float DistillationWeight { get; init; }

    /// <summary>Distillation temperature T.</summary>
    public float Temperature { get; init; } = 4f;

    /// <summary>Which output of the forward model the loss applies to (default the first); <see cref="Output"/> wins when set.</summary>
    public int OutputIndex { get; init; }

    /// <summary>The forward model's output the loss applies to, by name; null: <see cref="OutputIndex"/>.</summary>
    public string? Output { get; init; }

    /// <summary>Weight of this head's loss in the total (default 1).</summary>
    public float Weight { get; init; } = 1f;

    /// <summary>
    /// The key of this head's target in a <see cref="Data.DataBatch"/> (e.g. <see cref="Data.ImageDataset.LabelKey"/>); null:
    /// the batch's only target.
    /// </summary>
    public string? Target { get; init; }

    /// <summary>Cross-entropy against class ids [B] with logits [B, K].</summary>
    public static LossOptions CrossEntropy(string? output = null, string? target = null, float weight = 1f) =>
        new() { Kind = LossKind.SoftmaxCrossEntropy, Output = output, Target = target, Weight = weight };

    /// <summary>Mean squared error against a float target shaped like the output (regression, reconstruction).</summary>
    public static LossOptions MeanSquared(string? output = null, string? target = null, float weight = 1f) =>
        new() { Kind = LossKind.MeanSquaredError, Output = output, Target = target, Weight = weight };

    /// <summary>Binary cross-entropy on logits against a float target in [0, 1] shaped like the output.</summary>
    public static LossOptions Binary(string? output = null, string? target = null, float weight = 1f) =>
        new() { Kind = LossKind.BinaryCrossEntropy, Output = output, Target = target, Weight = weight };

    /// <summary>Cross-entropy blended with distillation from a teacher's logits (see <see cref="DistillationWeight"/>).</summary>
    public static LossOptions Distillation(float distillationWeight = 0.5f, float temperature = 4f, string? output = null, string? target = null, float weight = 1f) =>
        new() { Kind = LossKind.SoftmaxCrossEntropy, DistillationWeight = distillationWeight, Temperature = temperature, Output = output, Target = target, Weight = weight };
}

/// <summary>How the gradient of a Conv weight is emitted.</summary>
public enum ConvWeightGradientMethod
{
    /// <summary>One convolution of the input with the output gradient (batch and channel axes swapped); any group, dilation or rank.</summary>
    Convolution,
    /// <summary>
    /// For ungrouped, undilated 2-D convs: k² strided slices of the input (im2col) and one Gemm, about 10% faster for small
    /// CNNs; other convs, and those whose im2col buffer would pass 128 MB, use <see cref="Convolution"/>.
    /// </summary>
    Im2ColGemm,
}
