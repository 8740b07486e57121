using System.CommandLine;
using OnnxPrune.Onnx;

namespace OnnxPrune.Cli.Commands;

/// <summary><c>onnxprune convert IN OUT [--external-data [FILE]] [--inline]</c>: re-saves a model.</summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var input = new Argument<FileInfo>("input") { Description = "The ONNX model to read." };
        var output = new Argument<FileInfo>("output") { Description = "Where to write the model." };
        var external = new Option<string?>("--external-data")
        {
            Description = "Store tensors in an external data file (default name: OUTPUT.data).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var inline = new Option<bool>("--inline") { Description = "Store all tensors inside the model file." };
        var threshold = new Option<long>("--external-threshold")
        {
            Description = "With --external-data: tensors of at least this many bytes go to the external file.",
            DefaultValueFactory = _ => 1024,
        };
        var command = new Command("convert", "Re-save a model, to or from external data. Everything else in the file is kept.")
        {
            input, output, external, inline, threshold,
        };
        command.SetAction(parse =>
        {
            bool wantsExternal = parse.GetResult(external) is not null;
            if (wantsExternal && parse.GetValue(inline))
                throw new ArgumentException("--external-data and --inline exclude each other.");
            var model = ModelIO.Load(parse.GetValue(input)!.FullName);
            var options = new ModelSaveOptions
            {
                ExternalData = wantsExternal ? ExternalDataMode.External : parse.GetValue(inline) ? ExternalDataMode.Inline : ExternalDataMode.Auto,
                ExternalDataFileName = parse.GetValue(external),
                ExternalDataThreshold = parse.GetValue(threshold),
            };
            var outPath = parse.GetValue(output)!.FullName;
            ModelIO.Save(model, outPath, options);
            Console.WriteLine($"Wrote {outPath}" + (options.ExternalData == ExternalDataMode.External
                ? $" with external data in {options.ExternalDataFileName ?? Path.GetFileName(outPath) + ".data"}" : ""));
            return ExitCodes.Ok;
        });
        return command;
    }
}
