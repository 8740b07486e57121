using System.Text.Json.Serialization;
using OnnxPrune.Analysis;
using OnnxPrune.Data;
using OnnxPrune.Export;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Pruning.Importance;
using OnnxPrune.Runtime;
using OnnxPrune.Training;

namespace OnnxPrune.Pipeline;

/// <summary>
/// A pipeline file (<c>onnxprune pipeline run PIPELINE.yaml</c>): the source model, the task, the steps in order and the
/// gates. Keys are the verbs' option names in snake_case (<c>--round-to</c> is <c>round_to</c>); each step turns into the
/// library options record its verb binds (<see cref="PruneStepOptions.ToOptions"/> and so on). Parse with
/// <see cref="PipelineFile.Parse"/>, which resolves relative paths against the file's folder.
/// </summary>
public sealed class PipelineDefinition
{
    /// <summary>The source model (relative: to the pipeline file's folder).</summary>
    public string Model { get; set; } = "";

    /// <summary>Default data set of every step (<see cref="TaskData.Load"/> names).</summary>
    public string Data { get; set; } = "fashion-mnist";

    /// <summary>Default task classes of every step (empty: all).</summary>
    public List<int> Classes { get; set; } = [];

    /// <summary>The steps, in order; each entry names one step.</summary>
    public List<PipelineStepEntry> Steps { get; set; } = [];

    /// <summary>Gates checked on the evaluation after the last step.</summary>
    public PipelineGates? Gates { get; set; }

    /// <summary>The folder the file was read from (paths in it resolve against this); set by the parser.</summary>
    [JsonIgnore]
    public string BaseDirectory { get; set; } = ".";

    /// <summary>The file it was parsed from, or null.</summary>
    [JsonIgnore]
    public string? SourcePath { get; set; }
}

/// <summary>One entry of <c>steps:</c>, a mapping with exactly one key naming the step. A new step kind (e.g. <c>adapt</c>)
/// is a new property here, its options class, and a case in <see cref="PipelineRunner"/>'s step switch.</summary>
public sealed class PipelineStepEntry
{
    /// <summary><c>prune:</c> options (the <c>prune</c> verb's).</summary>
    public PruneStepOptions? Prune { get; set; }

    /// <summary><c>finetune:</c> options (the <c>finetune</c> verb's).</summary>
    public FinetuneStepOptions? Finetune { get; set; }

    /// <summary><c>export:</c> options (the <c>export</c> verb's).</summary>
    public ExportStepOptions? Export { get; set; }

    /// <summary><c>evaluate:</c> options (the <c>eval</c> verb's plus latency).</summary>
    public EvaluateStepOptions? Evaluate { get; set; }

    /// <summary>The YAML line of the entry (for errors).</summary>
    [JsonIgnore]
    internal (long Line, long Column) Position { get; set; }

    /// <summary>The step's name and options, or null when the entry names no step.</summary>
    internal IEnumerable<(string Name, object Options)> Named()
    {
        if (Prune is not null) yield return ("prune", Prune);
        if (Finetune is not null) yield return ("finetune", Finetune);
        if (Export is not null) yield return ("export", Export);
        if (Evaluate is not null) yield return ("evaluate", Evaluate);
    }
}

/// <summary>Gates on the final evaluation. A failing gate makes <see cref="PipelineRunner"/> throw
/// <see cref="GateFailedException"/> after the reports are written.</summary>
public sealed class PipelineGates
{
    /// <summary>Largest allowed test-accuracy drop of the final model against the source, in percentage points.</summary>
    public double? MaxAccuracyDrop { get; set; }

    /// <summary>Smallest allowed speed-up of the final model against the source (median latency, 1 thread).</summary>
    public double? MinSpeedup { get; set; }

    /// <summary>Largest allowed final file size in bytes.</summary>
    public long? MaxBytes { get; set; }

    /// <summary>Largest allowed final median latency (1 thread) in milliseconds.</summary>
    public double? MaxLatencyMs { get; set; }
}

/// <summary>The <c>prune</c> step: every option of <c>onnxprune prune</c> (but <c>--report</c>, which the pipeline writes).</summary>
public sealed class PruneStepOptions
{
    /// <summary>--criterion.</summary>
    public string Criterion { get; set; } = "l2";
    /// <summary>--allow-interface-change: groups that reach graph inputs/outputs may be pruned (their declared shapes
    /// are rewritten; see the README).</summary>
    public bool AllowInterfaceChange { get; set; }
    /// <summary>--data: the data the taylor and activation criteria score on (relative paths resolve against the pipeline
    /// file; not the pipeline's data by default, so a data-free criterion stays data-free).</summary>
    public string? Data { get; set; }
    /// <summary>--classes: with <see cref="Data"/>, score on these classes only.</summary>
    public List<int>? Classes { get; set; }
    /// <summary>--scores (a scores file; relative to the pipeline file).</summary>
    public string? Scores { get; set; }
    /// <summary>--ratio.</summary>
    public double? Ratio { get; set; }
    /// <summary>--target-params.</summary>
    public long? TargetParams { get; set; }
    /// <summary>--target-macs.</summary>
    public long? TargetMacs { get; set; }
    /// <summary>--target-bytes.</summary>
    public long? TargetBytes { get; set; }
    /// <summary>--global.</summary>
    public bool Global { get; set; }
    /// <summary>--per-cost.</summary>
    public bool PerCost { get; set; }
    /// <summary>--round-to.</summary>
    public long RoundTo { get; set; } = 1;
    /// <summary>--min-keep.</summary>
    public long MinKeep { get; set; } = 1;
    /// <summary>--protect.</summary>
    public List<string> Protect { get; set; } = [];
    /// <summary>--seed.</summary>
    public long Seed { get; set; }
    /// <summary>--dim (NAME=VALUE items).</summary>
    public List<string> Dim { get; set; } = [];
    /// <summary>--verify.</summary>
    public bool Verify { get; set; }

    /// <summary>The <see cref="PruneOptions"/> the <c>prune</c> verb builds from the same options.</summary>
    /// <param name="model">The model to prune: needed only by criteria that score on data (taylor, activation).</param>
    public PruneOptions ToOptions(OnnxModel? model = null)
    {
        var ranking = PerCost ? UnitRanking.ScorePerCost : UnitRanking.Score;
        var budget = PruningBudget.Select(Ratio, Global, TargetParams, TargetMacs, TargetBytes, ranking);
        bool needsData = Scores is null && Tasks.TaskDataSets.CriterionNeedsData(Criterion);
        if (needsData && Data is null) throw new ArgumentException($"criterion {Criterion} needs data.");
        if (needsData && model is null) throw new ArgumentException($"criterion {Criterion} scores on data: pass the model.", nameof(model));
        var options = new PruneOptions
        {
            Criterion = Scores is { } file ? ExternalScores.Load(file) : Tasks.TaskDataSets.CreateCriterion(Criterion, Seed),
            Data = needsData ? Tasks.TaskDataSets.CriterionData(model!, Data!, Classes?.ToArray(), unchecked((int)Seed)) : null,
            Budget = budget,
            Planner = new PlannerOptions { RoundTo = RoundTo, MinKeep = MinKeep, ProtectedNodes = Protect.ToArray(), Seed = Seed, Ranking = ranking },
            Cost = new CostOptions { Dims = DimBindings.Parse(Dim) },
        };
        return Verify ? options with { Verify = new VerificationOptions { Seed = unchecked((int)Seed), Dims = options.Cost.Dims } } : options;
    }
}

/// <summary>The <c>finetune</c> step: every option of <c>onnxprune finetune</c>, plus <see cref="EvaluationInterval"/> for the
/// accuracy-versus-steps plot.</summary>
public sealed class FinetuneStepOptions
{
    /// <summary>--data (default: the pipeline's).</summary>
    public string? Data { get; set; }
    /// <summary>--classes (default: the pipeline's).</summary>
    public List<int>? Classes { get; set; }
    /// <summary>--steps.</summary>
    public int Steps { get; set; }
    /// <summary>--epochs.</summary>
    public double Epochs { get; set; } = 1;
    /// <summary>--batch.</summary>
    public int Batch { get; set; } = 64;
    /// <summary>--lr (default: the optimizer's).</summary>
    public float? Lr { get; set; }
    /// <summary>--optimizer: sgd or adamw.</summary>
    public string Optimizer { get; set; } = "sgd";
    /// <summary>--weight-decay (default: the optimizer's).</summary>
    public float? WeightDecay { get; set; }
    /// <summary>--warmup.</summary>
    public int Warmup { get; set; }
    /// <summary>--label-smoothing.</summary>
    public float LabelSmoothing { get; set; }
    /// <summary>--teacher (alias --distill-from): a teacher model; <c>source</c> means the pipeline's source model. With
    /// <c>data: images:FOLDER</c> the loss is distillation alone (label-free).</summary>
    public string? Teacher { get; set; }
    /// <summary>--outputs: the outputs to distil (default: every float output shared with the teacher).</summary>
    public List<string>? Outputs { get; set; }
    /// <summary>--image-size: [H, W] for images:FOLDER data (default: the model's input).</summary>
    public List<int>? ImageSize { get; set; }
    /// <summary>--mean: per-channel mean for images:FOLDER data.</summary>
    public List<float>? Mean { get; set; }
    /// <summary>--std: per-channel std for images:FOLDER data.</summary>
    public List<float>? Std { get; set; }
    /// <summary>--bgr: feed images:FOLDER data as BGR.</summary>
    public bool Bgr { get; set; }
    /// <summary>--clip-norm: the gradients' global L2 norm limit (default: the library's; 0: off).</summary>
    public float? ClipNorm { get; set; }
    /// <summary>--batch-free: write the model with a symbolic batch dim.</summary>
    public bool BatchFree { get; set; }
    /// <summary>--distill-weight.</summary>
    public float DistillWeight { get; set; } = 0.5f;
    /// <summary>--temperature.</summary>
    public float Temperature { get; set; } = 4f;
    /// <summary>--recalibrate-bn.</summary>
    public int RecalibrateBn { get; set; }
    /// <summary>--bn: batch or frozen.</summary>
    public string Bn { get; set; } = "batch";
    /// <summary>--seed.</summary>
    public int Seed { get; set; } = 1;
    /// <summary>--threads.</summary>
    public int Threads { get; set; }
    /// <summary>--provider.</summary>
    public string Provider { get; set; } = "cpu";
    /// <summary>--progress-interval.</summary>
    public int ProgressInterval { get; set; } = 20;
    /// <summary>Evaluate on the test split every this many steps (the report's accuracy-versus-steps plot); 0: a sixth of the steps.</summary>
    public int EvaluationInterval { get; set; }

    /// <summary>The <see cref="FinetuneOptions"/> the <c>finetune</c> verb builds from the same options.</summary>
    /// <param name="teacher">The loaded <see cref="Teacher"/> model, or null.</param>
    public FinetuneOptions ToOptions(OnnxModel? teacher)
    {
        if (Optimizer is not ("sgd" or "adamw")) throw new ArgumentException($"optimizer must be sgd or adamw, not '{Optimizer}'.");
        if (Bn is not ("batch" or "frozen")) throw new ArgumentException($"bn must be batch or frozen, not '{Bn}'.");
        var kind = Optimizer == "adamw" ? OptimizerKind.AdamW : OptimizerKind.Sgd;
        var defaults = TrainerOptions.For(kind);
        var data = Data ?? "fashion-mnist";
        bool labelFree = data.StartsWith(FineTuner.ImagesPrefix, StringComparison.Ordinal);
        if (ImageSize is { } size && (size.Count != 2 || size.Any(v => v < 1))) throw new ArgumentException("image_size needs two positive integers [H, W].");
        return new FinetuneOptions
        {
            Data = data,
            Teacher = labelFree ? teacher : null,
            Outputs = Outputs?.ToArray(),
            ImageSize = ImageSize is { } hw ? (hw[0], hw[1]) : null,
            Mean = Mean?.ToArray(),
            Std = Std?.ToArray(),
            Bgr = Bgr,
            BatchFree = BatchFree,
            Classes = Classes?.ToArray(),
            RecalibrationBatches = RecalibrateBn,
            Trainer = defaults with
            {
                BatchSize = Batch,
                Steps = Steps,
                Epochs = Epochs,
                Seed = Seed,
                IntraOpThreads = Threads,
                BatchNorm = Bn == "frozen" ? BatchNormMode.Frozen : BatchNormMode.BatchStatistics,
                Optimizer = defaults.Optimizer with { WeightDecay = WeightDecay ?? defaults.Optimizer.WeightDecay },
                Schedule = defaults.Schedule with { BaseRate = Lr ?? defaults.Schedule.BaseRate, WarmupSteps = Warmup },
                Loss = new LossOptions { LabelSmoothing = LabelSmoothing, DistillationWeight = teacher is null || labelFree ? 0 : DistillWeight, Temperature = Temperature },
                Teacher = labelFree ? null : teacher,
                GradientClipNorm = ClipNorm ?? defaults.GradientClipNorm,
                ProgressInterval = Math.Max(1, ProgressInterval),
                EvaluationInterval = EvaluationInterval > 0 ? EvaluationInterval : Steps > 0 ? Math.Max(1, Steps / 6) : 0,
                Provider = SessionSettings.ParseProvider(Provider),
            },
        };
    }
}

/// <summary>The <c>export</c> step: every option of <c>onnxprune export</c> (but <c>--report</c>, which the pipeline writes).</summary>
public sealed class ExportStepOptions
{
    /// <summary>--fold-bn.</summary>
    public bool FoldBn { get; set; }
    /// <summary>--cleanup.</summary>
    public bool Cleanup { get; set; }
    /// <summary>--int8.</summary>
    public bool Int8 { get; set; }
    /// <summary>--calibrate (with <c>int8</c>, not <c>dynamic</c>; default: the pipeline's data).</summary>
    public string? Calibrate { get; set; }
    /// <summary>--classes (default: the pipeline's).</summary>
    public List<int>? Classes { get; set; }
    /// <summary>--calibration-images.</summary>
    public int CalibrationImages { get; set; } = 512;
    /// <summary>--calibration-method: minmax or percentile.</summary>
    public string CalibrationMethod { get; set; } = "minmax";
    /// <summary>--percentile.</summary>
    public double Percentile { get; set; } = 99.99;
    /// <summary>--per-channel.</summary>
    public bool PerChannel { get; set; }
    /// <summary>--reduce-range.</summary>
    public bool ReduceRange { get; set; }
    /// <summary>--dynamic.</summary>
    public bool Dynamic { get; set; }
    /// <summary>--opset: declare opset 16 or 17 (older ops upgraded first).</summary>
    public int? Opset { get; set; }
    /// <summary>--fp16.</summary>
    public bool Fp16 { get; set; }
    /// <summary>--keep-io-types.</summary>
    public bool KeepIoTypes { get; set; }
    /// <summary>--check.</summary>
    public string? Check { get; set; }
    /// <summary>--latency-runs.</summary>
    public int LatencyRuns { get; set; } = 50;
    /// <summary>--seed.</summary>
    public int Seed { get; set; } = 42;

    /// <summary>The <see cref="ExportOptions"/> the <c>export</c> verb builds from the same options.</summary>
    public ExportOptions ToOptions()
    {
        if (!Int8 && (Dynamic || Calibrate is not null || PerChannel || ReduceRange))
            throw new ArgumentException("calibrate, per_channel, reduce_range and dynamic need int8: true.");
        if (CalibrationMethod is not ("minmax" or "percentile")) throw new ArgumentException($"calibration_method must be minmax or percentile, not '{CalibrationMethod}'.");
        var options = new ExportOptions
        {
            FoldBatchNorm = FoldBn,
            Cleanup = Cleanup,
            Int8 = !Int8 ? Int8Mode.None : Dynamic ? Int8Mode.Dynamic : Int8Mode.Static,
            CalibrationData = Calibrate,
            Classes = Classes?.ToArray() ?? [],
            CalibrationImages = CalibrationImages,
            Calibration = CalibrationMethod == "percentile" ? Export.CalibrationMethod.Percentile : Export.CalibrationMethod.MinMax,
            Percentile = Percentile,
            PerChannel = PerChannel,
            ReduceRange = ReduceRange,
            Opset = Opset,
            Float16 = Fp16,
            KeepIoTypes = KeepIoTypes,
            CheckData = Check,
            LatencyRuns = LatencyRuns,
            Seed = Seed,
        };
        options.Validate();
        return options;
    }
}

/// <summary>The <c>evaluate</c> step: the <c>eval</c> verb's options plus latency, on the source and every step's model.</summary>
public sealed class EvaluateStepOptions
{
    /// <summary>--data (default: the pipeline's).</summary>
    public string? Data { get; set; }
    /// <summary>--classes (default: the pipeline's).</summary>
    public List<int>? Classes { get; set; }
    /// <summary>--batch.</summary>
    public int Batch { get; set; } = 256;
    /// <summary>--threads (accuracy sessions).</summary>
    public int Threads { get; set; }
    /// <summary>--provider (accuracy sessions).</summary>
    public string Provider { get; set; } = "cpu";
    /// <summary>Evaluate on at most this many test images, spread over the classes (0: all).</summary>
    public int Images { get; set; }
    /// <summary>Timed runs per latency measurement (ONNX Runtime CPU, 1 thread; 0 skips latency).</summary>
    public int LatencyRuns { get; set; } = 50;
    /// <summary>Untimed warm-up runs per latency measurement.</summary>
    public int LatencyWarmup { get; set; } = 5;
    /// <summary>Seed of the latency inputs and the image sample.</summary>
    public int Seed { get; set; } = 42;
}
