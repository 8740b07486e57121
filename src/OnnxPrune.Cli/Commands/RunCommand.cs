using System.CommandLine;
using System.Globalization;
using OnnxPrune.Onnx;
using OnnxPrune.Graph;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;

namespace OnnxPrune.Cli.Commands;

/// <summary><c>onnxprune run MODEL</c>: runs a model once on ONNX Runtime and reports (and optionally saves) its outputs.</summary>
internal static class RunCommand
{
    /// <summary>Builds the verb.</summary>
    public static Command Create()
    {
        var model = new Argument<FileInfo>("model") { Description = "The .onnx model to run." };
        var inputs = new Option<string[]>("--input")
        {
            Description = "An input as NAME=FILE.pb (a serialized TensorProto); repeat for several inputs.",
            HelpName = "NAME=FILE.pb",
        };
        var random = new Option<bool>("--random") { Description = "Fill inputs not given with --input with seeded random data." };
        var seed = new Option<int>("--seed") { Description = "Seed for --random.", DefaultValueFactory = _ => 42 };
        var dims = new Option<string[]>("--dim")
        {
            Description = "Value of a dynamic dimension for --random: NAME=VALUE (symbolic name, e.g. batch=4) or INPUT:AXIS=VALUE; others are 1.",
            HelpName = "NAME=VALUE",
        };
        var outputDir = new Option<DirectoryInfo?>("--output-dir")
        {
            Description = "Write the inputs and outputs as input_K.pb / output_K.pb TensorProto files (an ONNX test data set) into this folder.",
        };
        var threads = new Option<int>("--threads") { Description = "Intra-op threads (0: ONNX Runtime's default)." };

        var provider = ProviderOption();
        var command = new Command("run", "Run a model once on ONNX Runtime and print each output's shape and min/max/mean.")
        {
            model, inputs, random, seed, dims, outputDir, threads, provider,
        };
        command.SetAction(parse => Execute(
            parse.GetValue(model)!, parse.GetValue(inputs) ?? [], parse.GetValue(random), parse.GetValue(seed),
            parse.GetValue(dims) ?? [], parse.GetValue(outputDir), parse.GetValue(threads), Console.Out, ParseProvider(parse.GetValue(provider))));
        return command;
    }

    /// <summary>The verb's work; returns the exit code. Exceptions propagate to <see cref="ExitCodes"/>.</summary>
    public static int Execute(FileInfo model, string[] inputSpecs, bool random, int seed, string[] dimSpecs, DirectoryInfo? outputDir, int threads, TextWriter output, ExecutionProvider provider = ExecutionProvider.Cpu)
    {
        using var session = OrtSessions.Create(model.FullName, new SessionSettings { IntraOpThreads = threads, Provider = provider });
        var feeds = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var spec in inputSpecs)
        {
            int eq = spec.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"--input expects NAME=FILE.pb, got '{spec}'.");
            feeds[spec[..eq]] = TensorProtoConverter.ReadFile(spec[(eq + 1)..]);
        }
        if (random)
        {
            var missing = session.InputMetadata.Where(i => !feeds.ContainsKey(i.Key)).ToDictionary();
            var dims = BenchCommand.RandomInputDims(model, session, DimBindings.Parse(dimSpecs));
            foreach (var (name, tensor) in RandomInputs.Create(missing, seed, dims))
                feeds[name] = tensor;
            if (RandomInputs.Resolve(missing, dims).Defaulted is { Count: > 0 } defaulted)
                Console.Error.WriteLine($"warning: dynamic dims set to 1 because no --dim gave them: {string.Join(", ", defaulted)}");
        }
        else if (dimSpecs.Length > 0)
        {
            throw new ArgumentException("--dim only applies with --random.");
        }

        output.WriteLine($"model inputs:  {session.DescribeInputs()}");
        output.WriteLine($"model outputs: {session.DescribeOutputs()}");
        var results = session.RunTensors(feeds);
        foreach (var (name, tensor) in results) output.WriteLine(Describe(name, tensor));

        if (outputDir != null)
        {
            outputDir.Create();
            for (int k = 0; k < session.InputNames.Count; k++)
            {
                var name = session.InputNames[k];
                TensorProtoConverter.WriteFile(feeds[name], name, Path.Combine(outputDir.FullName, $"input_{k}.pb"));
            }
            int j = 0;
            foreach (var (name, tensor) in results)
                TensorProtoConverter.WriteFile(tensor, name, Path.Combine(outputDir.FullName, $"output_{j++}.pb"));
            output.WriteLine($"wrote {session.InputNames.Count} input(s) and {results.Count} output(s) to {outputDir.FullName}");
        }
        return ExitCodes.Ok;
    }

    /// <summary>The <c>--provider cpu|cuda</c> option shared by run, bench, eval and finetune.</summary>
    internal static Option<string> ProviderOption()
    {
        var provider = new Option<string>("--provider")
        {
            Description = "Execution provider: cpu (default) or cuda (needs the GPU build, -p:OnnxRuntimeFlavor=Gpu, and CUDA 13 + cuDNN 9; else exit 6).",
            DefaultValueFactory = _ => "cpu",
        };
        provider.AcceptOnlyFromAmong("cpu", "cuda");
        return provider;
    }

    /// <summary>Maps the --provider value to the library's enum.</summary>
    internal static ExecutionProvider ParseProvider(string? value) => SessionSettings.ParseProvider(value ?? "cpu");

    /// <summary>One line per output: name, type and shape, and min/max/mean (plus NaN/inf counts when any).</summary>
    internal static string Describe(string name, Tensor tensor)
    {
        var text = $"{name}: {tensor}";
        if (tensor.ElementCount == 0 || tensor.ElementType is ElementType.Complex64 or ElementType.Complex128 or ElementType.UInt32 or ElementType.UInt64 or ElementType.UInt16 || ElementTypes.SizeOf(tensor.ElementType) == 0)
            return text;
        var values = tensor.ToFloatArray();
        int nan = 0, inf = 0;
        double min = double.PositiveInfinity, max = double.NegativeInfinity, sum = 0;
        long finite = 0;
        foreach (var v in values)
        {
            if (float.IsNaN(v)) { nan++; continue; }
            if (float.IsInfinity(v)) { inf++; continue; }
            min = Math.Min(min, v);
            max = Math.Max(max, v);
            sum += v;
            finite++;
        }
        var ci = CultureInfo.InvariantCulture;
        if (finite > 0) text += string.Format(ci, "  min={0:G6} max={1:G6} mean={2:G6}", min, max, sum / finite);
        if (nan > 0) text += $"  nan={nan}";
        if (inf > 0) text += $"  inf={inf}";
        return text;
    }
}
