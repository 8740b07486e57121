namespace OnnxPrune.Training;

/// <summary>The shape of the learning-rate curve after warm-up.</summary>
public enum ScheduleKind
{
    /// <summary>Constant.</summary>
    Constant,
    /// <summary>Cosine decay from the base rate to <see cref="LearningRateSchedule.MinimumRate"/> at the last step.</summary>
    Cosine,
}

/// <summary>Learning rate per step: linear warm-up from 0, then constant or cosine decay.</summary>
public sealed record LearningRateSchedule
{
    /// <summary>Fine-tuning defaults: cosine decay from 0.01 (SGD) or 5e-4 (AdamW).</summary>
    public static LearningRateSchedule For(OptimizerKind optimizer) => optimizer switch
    {
        OptimizerKind.Sgd => new LearningRateSchedule { BaseRate = 0.01f, Kind = ScheduleKind.Cosine },
        OptimizerKind.AdamW => new LearningRateSchedule { BaseRate = 5e-4f, Kind = ScheduleKind.Cosine },
        _ => throw new ArgumentOutOfRangeException(nameof(optimizer), optimizer, "Unknown optimizer."),
    };

    /// <summary>The peak learning rate.</summary>
    public float BaseRate { get; init; } = 0.01f;
    /// <summary>Constant or cosine.</summary>
    public ScheduleKind Kind { get; init; } = ScheduleKind.Cosine;
    /// <summary>Steps of linear warm-up.</summary>
    public int WarmupSteps { get; init; }
    /// <summary>The floor of the cosine decay.</summary>
    public float MinimumRate { get; init; }

    /// <summary>The rate at step <paramref name="step"/> (0-based) of <paramref name="totalSteps"/>.</summary>
    public float Rate(int step, int totalSteps)
    {
        if (step < WarmupSteps) return BaseRate * (step + 1) / WarmupSteps;
        if (Kind == ScheduleKind.Constant) return BaseRate;
        int span = Math.Max(1, totalSteps - WarmupSteps);
        double progress = Math.Clamp((double)(step - WarmupSteps) / span, 0, 1);
        return (float)(MinimumRate + (BaseRate - MinimumRate) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }
}
