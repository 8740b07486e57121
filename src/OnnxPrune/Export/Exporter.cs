using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Graph.Passes;
using OnnxPrune.Training;

namespace OnnxPrune.Export;

/// <summary>One step of an export, for progress display.</summary>
/// <param name="Stage">pass, calibrate, save, check, latency.</param>
/// <param name="Message">What happened.</param>
public sealed record ExportProgress(string Stage, string Message);

/// <summary>
/// Prepares a model for an edge runtime: runs the export passes the options ask for, writes the result atomically,
/// then measures it against the source (equivalence on random and real inputs, accuracy, latency, size).
/// </summary>
/// <remarks>Order: fold-bn → cleanup (remove-identity, fold-shapes, dedup-constants) → dead-code → calibration on the
/// cleaned float32 model → int8-static or int8-dynamic, or fp16 → dedup-constants → dead-code. The source file is never
/// modified; nothing is written when a pass refuses the model.</remarks>
public static class Exporter
{
    /// <summary>The passes for <paramref name="options"/> that need no calibration, in run order.</summary>
    public static PassPipeline FloatPasses(ExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var pipeline = new PassPipeline();
        if (options.Opset is int opset) pipeline.Add(new SetOpsetPass(opset));
        if (options.Cleanup) pipeline.Add(new RemoveIdentityPass());
        if (options.FoldBatchNorm) pipeline.Add(new FoldBatchNormPass());
        if (options.Cleanup) pipeline.Add(new FoldShapeConstantsPass()).Add(new DeduplicateConstantsPass());
        pipeline.Add(new DeadCodeEliminationPass());
        return pipeline;
    }

    /// <summary>Transforms <paramref name="source"/> (not modified) into a new model; returns it with the pass results.</summary>
    /// <exception cref="UnsupportedModelException">A pass refuses the model.</exception>
    /// <exception cref="ArgumentException">Bad option combination.</exception>
    public static (OnnxModel Model, IReadOnlyList<PassResult> Passes) Transform(OnnxModel source, ExportOptions options,
        IProgress<ExportProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var model = OnnxModel.FromBytes(source.ToBytes(), source.SourcePath ?? "<model>");
        var passProgress = new Progress(progress);
        var results = new List<PassResult>(FloatPasses(options).Run(model, passProgress, cancellationToken));
        var last = new PassPipeline();
        if (options.Int8 == Int8Mode.Static)
        {
            var activations = QuantizeStaticPass.ActivationsToCalibrate(model);
            var data = TaskData.Load(options.CalibrationData!, train: true);
            data = TaskData.ForTask(data, options.Classes, TaskData.OutputClasses(model));
            progress?.Report(new ExportProgress("calibrate", $"{activations.Count} activations on {Math.Min(options.CalibrationImages, data.Count)} images of {data.Name} ({options.Calibration})"));
            var collector = ExportChecks.Calibrate(model, activations, Spread(data, options.CalibrationImages, options.Seed), options.CalibrationImages,
                percentile: options.Percentile, cancellationToken: cancellationToken);
            last.Add(new QuantizeStaticPass(collector.ToTable(options.Calibration), options.PerChannel, options.ReduceRange));
        }
        else if (options.Int8 == Int8Mode.Dynamic) last.Add(new QuantizeDynamicPass(options.PerChannel, options.ReduceRange));
        else if (options.Float16) last.Add(new Float16Pass(options.KeepIoTypes));
        if (last.Passes.Count > 0)
        {
            last.Add(new DeduplicateConstantsPass()).Add(new DeadCodeEliminationPass());
            results.AddRange(last.Run(model, passProgress, cancellationToken));
        }
        return (model, results);
    }

    /// <summary>Exports <paramref name="inputPath"/> to <paramref name="outputPath"/> and measures the result.</summary>
    /// <exception cref="OnnxFormatException">The input is not a valid model.</exception>
    /// <exception cref="UnsupportedModelException">A pass refuses the model (nothing is written).</exception>
    public static Task<ExportReport> ExportAsync(string inputPath, string outputPath, ExportOptions options,
        IProgress<ExportProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(inputPath);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return Task.Run(() => Export(inputPath, outputPath, options, progress, cancellationToken), cancellationToken);
    }

    private static ExportReport Export(string inputPath, string outputPath, ExportOptions options, IProgress<ExportProgress>? progress, CancellationToken ct)
    {
        var source = OnnxModel.Load(inputPath);
        var (model, passes) = Transform(source, options, progress, ct);
        ct.ThrowIfCancellationRequested();
        model.Save(outputPath);
        progress?.Report(new ExportProgress("save", outputPath));
        // Measure what was written (the file is what users deploy).
        var written = OnnxModel.Load(outputPath);

        var equivalence = new List<EquivalenceReport>();
        if (options.EquivalenceSamples > 0)
        {
            progress?.Report(new ExportProgress("check", $"equivalence on {options.EquivalenceSamples} random input sets"));
            equivalence.Add(ExportChecks.Compare(source, written, options.EquivalenceSamples, options.Seed, cancellationToken: ct));
        }
        AccuracyReport? accuracy = null;
        var realData = options.CheckData ?? options.CalibrationData;
        if (realData is not null)
        {
            var test = TaskData.ForTask(TaskData.Load(realData, train: false), options.Classes, TaskData.OutputClasses(source));
            progress?.Report(new ExportProgress("check", $"equivalence on 64 real images of {test.Name}"));
            equivalence.Add(ExportChecks.Compare(source, written, 1, options.Seed, test, 64, ct));
            if (options.CheckData is not null)
            {
                progress?.Report(new ExportProgress("check", $"accuracy on {test.Count} images of {test.Name}"));
                accuracy = new AccuracyReport(test.Name, test.Count, ExportChecks.Accuracy(source, test, ct), ExportChecks.Accuracy(written, test, ct));
            }
        }
        var latency = new List<LatencyComparison>();
        if (options.LatencyRuns > 0)
        {
            foreach (var threads in new[] { 1, 0 })
            {
                ct.ThrowIfCancellationRequested();
                progress?.Report(new ExportProgress("latency", $"{options.LatencyRuns} runs at {(threads == 0 ? "all" : "1")} thread(s)"));
                latency.Add(new LatencyComparison(threads,
                    ExportChecks.Latency(source, threads, options.LatencyWarmup, options.LatencyRuns, options.Seed),
                    ExportChecks.Latency(written, threads, options.LatencyWarmup, options.LatencyRuns, options.Seed)));
            }
        }
        return new ExportReport(Path.GetFullPath(inputPath), Path.GetFullPath(outputPath), options, passes,
            new FileInfo(inputPath).Length, new FileInfo(outputPath).Length, OpCounts(source), OpCounts(written), equivalence, accuracy, latency);
    }

    /// <summary>Node count per op type.</summary>
    public static IReadOnlyDictionary<string, int> OpCounts(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Graph.Nodes.GroupBy(n => n.OpType).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count());
    }

    // Calibration images drawn evenly over the classes (the train split may be sorted by class).
    private static ImageDataset Spread(ImageDataset data, int images, int seed)
    {
        if (images >= data.Count) return data;
        int perClass = Math.Max(1, (images + data.ClassCount - 1) / data.ClassCount);
        return data.TakePerClass(perClass, seed);
    }

    private sealed class Progress(IProgress<ExportProgress>? inner) : IProgress<PassResult>
    {
        public void Report(PassResult value) =>
            inner?.Report(new ExportProgress("pass", $"{value.Pass}: {value.Changes} changes{(value.Notes.Count > 0 ? " — " + value.Notes[0] : "")}"));
    }
}
