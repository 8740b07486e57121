using System.CommandLine;
using OnnxPrune.Data;
using OnnxPrune.Export;
using OnnxPrune.Training;

namespace OnnxPrune.Cli.Commands;

/// <summary>
/// <c>onnxprune export IN OUT [--fold-bn] [--cleanup] [--int8 [--calibrate DATA] [--per-channel] [--dynamic]] [--fp16
/// [--keep-io-types]] [--check DATA] [--report FILE]</c>: prepares a model for an edge runtime (library: <see cref="Exporter"/>).
/// </summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var input = new Argument<FileInfo>("in") { Description = "The float32 model to export." };
        var output = new Argument<FileInfo>("out") { Description = "Where to write the exported model." };
        var foldBn = new Option<bool>("--fold-bn") { Description = "Fold BatchNormalization into the preceding Conv/ConvTranspose/Gemm." };
        var cleanup = new Option<bool>("--cleanup") { Description = "Remove Identity/Dropout, fold shape sub-graphs, merge duplicate constants." };
        var int8 = new Option<bool>("--int8") { Description = "INT8 quantization: static QDQ with --calibrate, or dynamic MatMul quantization with --dynamic." };
        var calibrate = new Option<string?>("--calibrate") { Description = "Calibration data set (train split) for static INT8: fashion-mnist, fashion-mnist:FOLDER, npy:FOLDER.", HelpName = "DATA" };
        var classes = new Option<string?>("--classes") { Description = "Task classes for calibration and --check, e.g. 0,3,7." };
        var images = new Option<int>("--calibration-images") { Description = "Calibration images.", DefaultValueFactory = _ => 512 };
        var method = new Option<string>("--calibration-method") { Description = "minmax or percentile.", DefaultValueFactory = _ => "minmax" };
        method.AcceptOnlyFromAmong("minmax", "percentile");
        var percentile = new Option<double>("--percentile") { Description = "Upper percentile for --calibration-method percentile.", DefaultValueFactory = _ => 99.99 };
        var perChannel = new Option<bool>("--per-channel") { Description = "One weight scale per output channel (default: per tensor)." };
        var reduceRange = new Option<bool>("--reduce-range") { Description = "7-bit weights (x86 CPUs without VNNI)." };
        var dynamic = new Option<bool>("--dynamic") { Description = "With --int8: dynamic quantization of MatMuls (no calibration; for transformers)." };
        var opset = new Option<int?>("--opset") { Description = "Declare default-domain opset 16 or 17 (not below the model's), upgrading older ops first." };
        var fp16 = new Option<bool>("--fp16") { Description = "Convert to float16." };
        var keepIo = new Option<bool>("--keep-io-types") { Description = "With --fp16: keep float32 inputs and outputs." };
        var check = new Option<string?>("--check") { Description = "Data set whose test split gives the accuracy before and after.", HelpName = "DATA" };
        var report = new Option<FileInfo?>("--report") { Description = "Write the report here (Markdown for .md, else JSON)." };
        var runs = new Option<int>("--latency-runs") { Description = "Timed runs per latency measurement (0 skips latency).", DefaultValueFactory = _ => 50 };
        var seed = new Option<int>("--seed") { Description = "Seed for random inputs and calibration sampling.", DefaultValueFactory = _ => 42 };
        var command = new Command("export", "Prepare a model for an edge runtime: BN folding, cleanup, INT8 (QDQ) or FP16; checks equivalence, accuracy, latency and size.")
        {
            input, output, foldBn, cleanup, int8, calibrate, classes, images, method, percentile, perChannel, reduceRange, dynamic, opset, fp16, keepIo, check, report, runs, seed,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            bool quantize = parse.GetValue(int8);
            if (!quantize && (parse.GetValue(dynamic) || parse.GetValue(calibrate) is not null || parse.GetValue(perChannel) || parse.GetValue(reduceRange)))
                throw new ArgumentException("--calibrate, --per-channel, --reduce-range and --dynamic need --int8.");
            var options = new ExportOptions
            {
                FoldBatchNorm = parse.GetValue(foldBn),
                Cleanup = parse.GetValue(cleanup),
                Int8 = !quantize ? Int8Mode.None : parse.GetValue(dynamic) ? Int8Mode.Dynamic : Int8Mode.Static,
                CalibrationData = parse.GetValue(calibrate),
                Classes = TaskData.ParseClasses(parse.GetValue(classes)),
                CalibrationImages = parse.GetValue(images),
                Calibration = parse.GetValue(method) == "percentile" ? CalibrationMethod.Percentile : CalibrationMethod.MinMax,
                Percentile = parse.GetValue(percentile),
                PerChannel = parse.GetValue(perChannel),
                ReduceRange = parse.GetValue(reduceRange),
                Opset = parse.GetValue(opset),
                Float16 = parse.GetValue(fp16),
                KeepIoTypes = parse.GetValue(keepIo),
                CheckData = parse.GetValue(check),
                LatencyRuns = parse.GetValue(runs),
                Seed = parse.GetValue(seed),
            };
            var progress = new SynchronousProgress<ExportProgress>(p => Console.Error.WriteLine($"{p.Stage}: {p.Message}"));
            var result = await Exporter.ExportAsync(parse.GetValue(input)!.FullName, parse.GetValue(output)!.FullName, options, progress, cancellationToken);
            if (parse.GetValue(report) is { } file) result.Save(file.FullName);
            Console.WriteLine(result.ToMarkdown());
            return ExitCodes.Ok;
        });
        return command;
    }
}
