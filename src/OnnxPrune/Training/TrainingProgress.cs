namespace OnnxPrune.Training;

/// <summary>A progress report from <see cref="Trainer"/>.</summary>
/// <param name="Step">Steps done.</param>
/// <param name="TotalSteps">Steps planned.</param>
/// <param name="Epoch">Fractional epochs done.</param>
/// <param name="Loss">Mean training loss since the previous report.</param>
/// <param name="Accuracy">Training accuracy since the previous report (NaN for regression losses).</param>
/// <param name="ImagesPerSecond">Training throughput since the previous report.</param>
/// <param name="LearningRate">The current learning rate.</param>
/// <param name="Evaluation">Held-out evaluation, when one was run at this step.</param>
public sealed record TrainingProgress(int Step, int TotalSteps, double Epoch, double Loss, double Accuracy, double ImagesPerSecond, float LearningRate, EvaluationResult? Evaluation)
{
    /// <summary>With several heads: each head's mean (unweighted) loss since the previous report, by output name; null for one head.</summary>
    public IReadOnlyDictionary<string, double>? HeadLosses { get; init; }

    /// <summary>One line for a console, e.g. <c>step 100/900 ep 1.07 loss 0.4123 acc 85.2% 1234 img/s lr 0.0500</c>.</summary>
    public override string ToString() => FormattableString.Invariant(
        $"step {Step}/{TotalSteps} ep {Epoch:F2} loss {Loss:F4} acc {Accuracy:P1} {ImagesPerSecond:F0} img/s lr {LearningRate:G3}") +
        (HeadLosses is { } h ? " (" + string.Join(", ", h.Select(p => FormattableString.Invariant($"{p.Key} {p.Value:F4}"))) + ")" : "") +
        (Evaluation is { } e ? FormattableString.Invariant($" | eval acc {e.Accuracy:P2} loss {e.Loss:F4}") : "");
}

/// <summary>What a training run achieved.</summary>
/// <param name="Steps">Steps run.</param>
/// <param name="FinalLoss">Mean training loss over the last reporting window.</param>
/// <param name="Evaluation">The held-out evaluation of the final weights (null without a validation set).</param>
/// <param name="Seconds">Wall time of the training loop.</param>
public sealed record TrainingResult(int Steps, double FinalLoss, EvaluationResult? Evaluation, double Seconds)
{
    /// <summary>With several heads: each head's mean loss over the last reporting window, by output name; null for one head.</summary>
    public IReadOnlyDictionary<string, double>? HeadLosses { get; init; }

    /// <summary>Steps whose gradients were scaled down by <see cref="TrainerOptions.GradientClipNorm"/>.</summary>
    public int ClippedSteps { get; init; }
}
