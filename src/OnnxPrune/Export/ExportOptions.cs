namespace OnnxPrune.Export;

/// <summary>INT8 quantization modes.</summary>
public enum Int8Mode
{
    /// <summary>No quantization.</summary>
    None,
    /// <summary>Static QDQ with calibrated activation ranges (<see cref="QuantizeStaticPass"/>).</summary>
    Static,
    /// <summary>Dynamic MatMul quantization (<see cref="QuantizeDynamicPass"/>).</summary>
    Dynamic,
}

/// <summary>What <see cref="Exporter"/> does (the <c>onnxprune export</c> options).</summary>
public sealed record ExportOptions
{
    /// <summary>Fold BatchNormalization into the preceding Conv/ConvTranspose/Gemm.</summary>
    public bool FoldBatchNorm { get; init; }

    /// <summary>Remove Identity/Dropout, fold shape sub-graphs, merge duplicate constants, remove dead code.</summary>
    public bool Cleanup { get; init; }

    /// <summary>INT8 quantization mode.</summary>
    public Int8Mode Int8 { get; init; }

    /// <summary>One weight scale per output channel (else per tensor).</summary>
    public bool PerChannel { get; init; }

    /// <summary>7-bit weights, for x86 CPUs without VNNI whose u8·s8 dot products can saturate.</summary>
    public bool ReduceRange { get; init; }

    /// <summary>Data set of the calibration images (train split), e.g. <c>fashion-mnist</c>; required for <see cref="Int8Mode.Static"/>.</summary>
    public string? CalibrationData { get; init; }

    /// <summary>Task classes (calibration and accuracy use these classes only); empty: all.</summary>
    public IReadOnlyList<int> Classes { get; init; } = [];

    /// <summary>Calibration images (default 512).</summary>
    public int CalibrationImages { get; init; } = 512;

    /// <summary>How activation ranges are chosen (default MinMax).</summary>
    public CalibrationMethod Calibration { get; init; } = CalibrationMethod.MinMax;

    /// <summary>Upper percentile for <see cref="CalibrationMethod.Percentile"/> (default 99.99).</summary>
    public double Percentile { get; init; } = 99.99;

    /// <summary>Declare this default-domain opset (16 or 17, not below the model's), upgrading older ops first
    /// (<see cref="SetOpsetPass"/>); null keeps the model's.</summary>
    public int? Opset { get; init; }

    /// <summary>Convert to float16.</summary>
    public bool Float16 { get; init; }

    /// <summary>With <see cref="Float16"/>: keep float32 graph inputs and outputs.</summary>
    public bool KeepIoTypes { get; init; }

    /// <summary>Data set whose test split gives the accuracy before and after, and the real-input equivalence check.</summary>
    public string? CheckData { get; init; }

    /// <summary>Random input sets for the equivalence check (default 2; 0 skips it).</summary>
    public int EquivalenceSamples { get; init; } = 2;

    /// <summary>Seed of the random inputs.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Timed runs per latency measurement (default 50; 0 skips latency).</summary>
    public int LatencyRuns { get; init; } = 50;

    /// <summary>Untimed warm-up runs per latency measurement.</summary>
    public int LatencyWarmup { get; init; } = 5;

    /// <summary>Checks the combination; throws <see cref="ArgumentException"/> naming the bad option.</summary>
    public void Validate()
    {
        if (Int8 == Int8Mode.Static && string.IsNullOrEmpty(CalibrationData))
            throw new ArgumentException("Static INT8 quantization needs calibration data (--calibrate DATA), or use --dynamic.");
        if (Int8 != Int8Mode.None && Float16) throw new ArgumentException("--int8 and --fp16 exclude each other.");
        if (KeepIoTypes && !Float16) throw new ArgumentException("--keep-io-types applies to --fp16 only.");
        if (Int8 == Int8Mode.None && (PerChannel || ReduceRange || CalibrationData is not null)) throw new ArgumentException("--per-channel, --reduce-range and --calibrate apply to --int8 only.");
        if (CalibrationImages < 1) throw new ArgumentException("The number of calibration images must be at least 1.");
        if (!(Percentile > 50 && Percentile <= 100)) throw new ArgumentException("The calibration percentile must be in (50, 100].");
        if (EquivalenceSamples < 0 || LatencyRuns < 0 || LatencyWarmup < 0) throw new ArgumentException("Sample and run counts must not be negative.");
    }
}
