using OnnxPrune.Data;
using OnnxPrune.Graph;

namespace OnnxPrune.Training;

/// <summary>
/// Settings for <see cref="Trainer"/>. The defaults fine-tune a pruned CNN without diverging: SGD (momentum 0.9, weight
/// decay 5e-4), peak rate 0.01 with cosine decay, BatchNormalization on batch statistics (with frozen statistics a channel
/// whose running variance is tiny amplifies gradients, and SGD at 0.01 diverged on fmnist-resnet).
/// <see cref="For"/> gives the defaults of another optimizer.
/// </summary>
public sealed record TrainerOptions
{
    /// <summary>The defaults for <paramref name="optimizer"/>: its <see cref="OptimizerOptions.For"/> and <see cref="LearningRateSchedule.For"/>.</summary>
    public static TrainerOptions For(OptimizerKind optimizer) =>
        new() { Optimizer = OptimizerOptions.For(optimizer), Schedule = LearningRateSchedule.For(optimizer) };

    /// <summary>Images per step (the training graph's fixed batch size).</summary>
    public int BatchSize { get; init; } = 64;
    /// <summary>Steps to run; 0 means <see cref="Epochs"/> passes over the training data.</summary>
    public int Steps { get; init; }
    /// <summary>Epochs to run when <see cref="Steps"/> is 0.</summary>
    public double Epochs { get; init; } = 1;
    /// <summary>The optimizer.</summary>
    public OptimizerOptions Optimizer { get; init; } = OptimizerOptions.For(OptimizerKind.Sgd);
    /// <summary>The learning-rate schedule.</summary>
    public LearningRateSchedule Schedule { get; init; } = new();
    /// <summary>The loss (cross-entropy by default; distillation when a teacher is given).</summary>
    public LossOptions Loss { get; init; } = new();
    /// <summary>One loss per trained output (a model with several task heads); null: <see cref="Loss"/> alone.</summary>
    public IReadOnlyList<LossOptions>? Losses { get; init; }
    /// <summary>How BatchNormalization trains (default batch statistics; see the remarks on the type).</summary>
    public BatchNormMode BatchNorm { get; init; } = BatchNormMode.BatchStatistics;
    /// <summary>Trainable-tensor selection; null: <see cref="GradientBuilder.DefaultTrainable"/>.</summary>
    public Func<ConstantTensor, bool>? IsTrainable { get; init; }
    /// <summary>
    /// Gradient clipping by global norm: when the L2 norm of all gradients together exceeds this, every gradient is scaled
    /// by norm/this before the optimizer step (0: off). On by default: it leaves healthy fine-tunes untouched and caps the
    /// loss spikes that made deep no-BN models diverge (figures in Training/README.md).
    /// </summary>
    public float GradientClipNorm { get; init; } = 5f;
    /// <summary>Seed for shuffling and augmentation.</summary>
    public int Seed { get; init; } = 1;
    /// <summary>Training-batch augmentation.</summary>
    public Augmentation Augmentation { get; init; } = Augmentation.None;
    /// <summary>Report progress every this many steps.</summary>
    public int ProgressInterval { get; init; } = 50;
    /// <summary>Evaluate on the validation set every this many steps (0: only at the end).</summary>
    public int EvaluationInterval { get; init; }
    /// <summary>Also evaluate on the validation set after exactly these steps (1-based), e.g. 25, 50, 100 to read several
    /// fine-tuning budgets off one run; null or empty: none besides <see cref="EvaluationInterval"/> and the last step.</summary>
    public IReadOnlyList<int>? EvaluationSteps { get; init; }
    /// <summary>ONNX Runtime intra-op threads (0: its default). Fix it for bit-exact repeatability across machines. Idle threads do not spin (the trainer shares the CPU with its evaluation and teacher sessions).</summary>
    public int IntraOpThreads { get; init; }
    /// <summary>Execution provider of the training, evaluation and teacher sessions (default CPU; CUDA needs the GPU native package).</summary>
    public Runtime.ExecutionProvider Provider { get; init; }
    /// <summary>
    /// A teacher for knowledge distillation (e.g. the unpruned model), run as its own ONNX Runtime session; its logits
    /// become the training graph's teacher input. Set <see cref="LossOptions.DistillationWeight"/> &gt; 0 to use it
    /// (default weight 0.5 when a teacher is given and the weight is 0).
    /// </summary>
    public OnnxModel? Teacher { get; init; }
}
