// PruneBenchmark: figures for the pruning pass; nothing is asserted. See README.md for the figures and the command.
//
//   dotnet run --project tools/PruneBenchmark -c Release -- [--models DIR] [--no-shared] [--no-generated] [--repeat N]
//       [--rounds N] [--no-tool] [--cli NAME=PATH ...] [--python PATH] [--no-latency] [--runs N]
//   dotnet run --project tools/PruneBenchmark -c Release -- --generate PATH   (writes the generated model, exits)
//
// 1. Stages: for every model in ../shared/onnx-models and a generated, seeded VGG-style model with 123 MB of weights,
//    times load, analyse (+ cost count), score (L2), plan (50 % per group), surgery, count, save in this process
//    (median of --repeat runs), with this process's peak resident memory over the run.
// 2. Stage detail of the generated model: per stage, median ms, managed bytes allocated and peak resident memory.
// 3. Whole processes on the generated model, in --rounds rounds with rotating order: python onnx's
//    `onnx.save(onnx.load(A), B)` and `onnxprune prune A B --ratio 0.5`, both as the build output and as the dotnet
//    tool packed and installed by this tool (--no-tool skips it): wall time, CPU time and each process's own peak RSS.
// 4. ONNX Runtime latency before/after pruning with the MACs ratio beside the latency ratio (--no-latency skips).
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Pruning.Importance;
using OnnxPrune.Runtime;
using PruneBenchmark;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
string repoRoot = FindRepoRoot();
string modelsDir = Path.GetFullPath(Path.Combine(repoRoot, "..", "shared", "onnx-models"));
int runs = 30, repeat = 3, rounds = 5;
bool latency = true, generated = true, shared = true, tool = true;
string? python = null;
var extraClis = new List<(string Name, string[] Command)>();
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--models": modelsDir = args[++i]; break;
        case "--runs": runs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--repeat": repeat = Math.Max(1, int.Parse(args[++i], CultureInfo.InvariantCulture)); break;
        case "--rounds": rounds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--python": python = args[++i]; break;
        case "--no-latency": latency = false; break;
        case "--no-generated": generated = false; break;
        case "--no-shared": shared = false; break;
        case "--no-tool": tool = false; break;
        case "--cli":
            // Another onnxprune build to time beside these, NAME=PATH (e.g. the main branch's build output).
            var named = args[++i].Split('=', 2);
            extraClis.Add(named.Length == 2 ? (named[0], [named[1]]) : (named[0], [named[0]]));
            break;
        case "--cold":
            // One load → prune → save in this fresh process, stages printed for the parent (see RunSelf).
            StageRun.Measure(args[i + 1], args[i + 2], new CostOptions()).Print();
            return 0;
        case "--generate":
            // Writes the generated model and exits (for profiling by hand).
            GeneratedModel.Build(seed: 1).Save(args[++i]);
            return 0;
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
    }
}

var work = Directory.CreateTempSubdirectory("prune-benchmark-");
try
{
    var inputs = shared && Directory.Exists(modelsDir) ? Directory.GetFiles(modelsDir, "*.onnx").Order(StringComparer.Ordinal).ToList() : [];
    string? generatedPath = null;
    if (generated)
    {
        generatedPath = Path.Combine(work.FullName, "generated_vgg_123MB.onnx");
        var clock = Stopwatch.StartNew();
        GeneratedModel.Build(seed: 1).Save(generatedPath);
        Console.Error.WriteLine($"generated {generatedPath} ({new FileInfo(generatedPath).Length / 1e6:F0} MB) in {clock.Elapsed.TotalSeconds:F1} s");
        inputs.Add(generatedPath);
    }

    // Warm-up (JIT) on a small generated model, so the first row is not charged for compilation.
    {
        var warmPath = Path.Combine(work.FullName, "warmup.onnx");
        GeneratedModel.Build(seed: 2, widths: [8, 16, 16], spatial: 8, classes: 10).Save(warmPath);
        for (int i = 0; i < 3; i++) StageRun.Measure(warmPath, Path.Combine(work.FullName, "warmup.pruned.onnx"), CostOptionsFor(OnnxModel.Load(warmPath)));
    }

    // 1 and 2: stages in this process.
    var rows = new List<string[]>();
    string[] header = ["model", "MB", "load", "analyse", "score", "plan", "surgery", "count", "save", "total ms", "peak MB", "params", "params after", "MACs", "MACs ratio", "ORT ms", "ORT ms after", "latency ratio"];
    List<StageRun>? generatedRuns = null;
    foreach (var path in inputs)
    {
        var name = Path.GetFileNameWithoutExtension(path);
        string outPath = Path.Combine(work.FullName, name + ".pruned.onnx");
        try
        {
            var costOptions = CostOptionsFor(OnnxModel.Load(path));
            var measured = Enumerable.Range(0, repeat).Select(_ => StageRun.Measure(path, outPath, costOptions)).ToList();
            if (path == generatedPath) generatedRuns = measured;
            var report = measured[0].Report;
            string Median(string stage) => $"{StageRun.Median(measured, stage, s => s.Ms):F0}";
            string ortBefore = "n/a", ortAfter = "n/a", latencyRatio = "n/a";
            if (latency)
            {
                // Interleaved A B A B, best median of each: the machine is shared, so transient load hits one side less.
                var dims = costOptions.Dims;
                var a = Latency(path, runs, dims);
                var b = Latency(outPath, runs, dims);
                a = Math.Min(a, Latency(path, runs, dims));
                b = Math.Min(b, Latency(outPath, runs, dims));
                (ortBefore, ortAfter, latencyRatio) = ($"{a:F2}", $"{b:F2}", $"{b / a:F3}");
            }
            rows.Add([name, $"{new FileInfo(path).Length / 1e6:F1}", Median("load"), Median("analyse"), Median("score"), Median("plan"), Median("surgery"),
                Median("count"), Median("save"), $"{Stats.Median(measured.Select(m => m.TotalMs)):F0}", $"{Stats.Median(measured.Select(m => m.PeakMb)):F0}",
                $"{report.Before.Parameters:N0}", $"{report.After.Parameters:N0}",
                report.MacsComplete ? $"{report.Before.Macs:N0}" : $"{report.Before.Macs:N0}*", report.MacsComplete ? $"{report.MacsRatio:F3}" : "n/a",
                ortBefore, ortAfter, latencyRatio]);
        }
        catch (Exception e) when (e is OnnxPrune.OnnxPruneException or IOException)
        {
            rows.Add([name, .. Enumerable.Repeat("", header.Length - 2), "error: " + e.Message.Split('\n')[0]]);
        }
    }
    if (!latency) { header = header[..^3]; rows = rows.Select(r => r[..^3]).ToList(); }
    Stats.PrintTable(header, rows);
    if (rows.Any(r => r[13].EndsWith('*'))) Console.WriteLine("* MACs incomplete (some Conv/Gemm/MatMul shapes unresolved).");
    Console.WriteLine($"Stage times: median of {repeat} in-process runs (ms): load = file → IR; analyse = dependency analysis + cost count; score = L2;");
    Console.WriteLine("plan = 50 % per group; surgery = slicing + rewrites; count = cost of the pruned model; save = IR → file (atomic).");
    Console.WriteLine($"peak MB = this process's peak resident memory from load to save{(PeakMemory.CanReset ? "" : " (lifetime peak: /proc/self/clear_refs refused)")}.");
    if (latency) Console.WriteLine($"Symbolic H/W = 64, batch 1. ORT: best of two interleaved medians of {runs} runs (after 3 warm-ups), 1 intra-op thread, spinning off, seeded random inputs.");

    if (generatedRuns is not null && generatedPath is not null)
    {
        Console.WriteLine();
        Console.WriteLine($"Stages of {Path.GetFileName(generatedPath)}, warm (median of {repeat} runs in this process):");
        StageRun.PrintDetail(generatedRuns);
        Console.WriteLine();
        Console.WriteLine($"Stages of {Path.GetFileName(generatedPath)}, cold (median of {repeat} fresh processes, as `onnxprune prune` runs):");
        var cold = new List<string>();
        for (int i = 0; i < repeat; i++) cold.Add(RunSelf(["--cold", generatedPath!, Path.Combine(work.FullName, "cold.pruned.onnx")]));
        // Each child prints one line per stage: name and the Stage fields.
        var coldRuns = cold.Select(StageRun.Parse).ToList();
        StageRun.PrintDetail(coldRuns);
        Console.WriteLine("cpu = process CPU time (all threads); jit = time compiling methods (all threads) and methods compiled; allocated = managed");
        Console.WriteLine("bytes allocated; peak RSS = the process's peak resident memory during the stage.");
    }

    // 3: whole processes, side by side.
    if (generatedPath is not null && rounds > 0)
    {
        Console.WriteLine();
        python ??= FindPython();
        if (python is null) Console.WriteLine("Process comparison skipped: no python3 with the onnx module (give --python PATH).");
        else ProcessComparison.Run(generatedPath, work.FullName, [.. Clis(repoRoot, Path.Combine(work.FullName, "tool"), tool), .. extraClis], python, rounds);
    }
    return 0;
}
finally
{
    work.Delete(recursive: true);
}

// Runs this tool again in a fresh process and returns its standard output.
static string RunSelf(string[] arguments)
{
    var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
    var self = typeof(StageRun).Assembly.Location;
    if (!Path.GetFileNameWithoutExtension(Environment.ProcessPath!).Equals("PruneBenchmark", StringComparison.OrdinalIgnoreCase)) start.ArgumentList.Add(self);
    foreach (var a in arguments) start.ArgumentList.Add(a);
    using var process = Process.Start(start)!;
    var output = process.StandardOutput.ReadToEnd();
    process.WaitForExit();
    if (process.ExitCode != 0) throw new InvalidOperationException($"{string.Join(" ", arguments)} exited with {process.ExitCode}");
    return output;
}

static CostOptions CostOptionsFor(OnnxModel model) => new() { Dims = SymbolicDims(model) };

static double Latency(string path, int runs, IReadOnlyDictionary<string, long> dims)
{
    using var session = OrtSessions.Create(path, new SessionSettings { IntraOpThreads = 1, AllowSpinning = false });
    var feeds = RandomInputs.Create(session.InputMetadata, seed: 0, dims: dims, defaultDim: 1);
    return LatencyBenchmark.Measure(() => session.RunTensors(feeds), warmup: 3, runs: runs).MedianMs;
}

// Symbolic non-batch input dims (dynamic H/W) → 64, a size every shared model's strides divide; the batch stays 1.
static IReadOnlyDictionary<string, long> SymbolicDims(OnnxModel model)
{
    var dims = new Dictionary<string, long>(StringComparer.Ordinal);
    foreach (var input in model.Graph.DataInputs)
        if (input.Shape is { } shape)
            for (int i = 1; i < shape.Count; i++)
                if (shape[i].Param is { } p) dims[p] = 64;
    return dims;
}

static string FindRepoRoot()
{
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "OnnxPrune.sln"))) return d.FullName;
    return Directory.GetCurrentDirectory();
}

// The first python3 that imports onnx: Debian's python3-onnx lives in /usr/bin/python3, which a pyenv shim may hide.
static string? FindPython() => new[] { "/usr/bin/python3", "python3" }.FirstOrDefault(ChildProcess.HasOnnx);

// The CLI built with the same configuration as this tool (the project reference builds it; a Release build output is
// ReadyToRun-compiled on linux-x64, see src/OnnxPrune.Cli/OnnxPrune.Cli.csproj), and the same CLI as users install it:
// packed as the dotnet tool and installed into 'folder' (dotnet pack + dotnet tool install --tool-path).
static List<(string Name, string[] Command)> Clis(string repoRoot, string folder, bool tool)
{
    var result = new List<(string, string[])>();
    var configuration = typeof(StageRun).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "Configuration")?.Value ?? "Release";
    var output = Path.Combine(repoRoot, "src", "OnnxPrune.Cli", "bin", configuration, "net10.0");
    var built = Path.Combine(output, "OnnxPrune.Cli");
    if (File.Exists(built)) result.Add(($"build output ({configuration}, {CodeKind(Path.Combine(output, "OnnxPrune.dll"))})", [built]));
    else Console.WriteLine($"No CLI at {built}: build the solution first (dotnet build OnnxPrune.sln -c {configuration}).");
    if (!tool) return result;
    var feed = Path.Combine(folder, "feed");
    var installed = Path.Combine(folder, "tool");
    Console.Error.WriteLine("packing and installing the CLI as a dotnet tool …");
    if (Dotnet(["pack", Path.Combine(repoRoot, "src", "OnnxPrune.Cli", "OnnxPrune.Cli.csproj"), "-c", "Release", "-o", feed], out var log)
        && Dotnet(["tool", "install", "--tool-path", installed, "--add-source", feed, "OnnxPrune.Cli"], out log)
        && File.Exists(Path.Combine(installed, "onnxprune")))
    {
        var dll = Directory.GetFiles(Path.Combine(installed, ".store"), "OnnxPrune.dll", SearchOption.AllDirectories).FirstOrDefault();
        result.Add(($"dotnet tool ({(dll is null ? "?" : CodeKind(dll))})", [Path.Combine(installed, "onnxprune")]));
    }
    else Console.WriteLine($"Packing or installing the tool failed; compared without it.\n{log}");
    return result;
}

static bool Dotnet(string[] arguments, out string log)
{
    var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
    foreach (var a in arguments) start.ArgumentList.Add(a);
    using var process = Process.Start(start)!;
    var stdout = process.StandardOutput.ReadToEndAsync();
    var stderr = process.StandardError.ReadToEnd();
    process.WaitForExit();
    log = stdout.Result + stderr;
    return process.ExitCode == 0;
}

// "ReadyToRun" when the assembly carries precompiled code (a ReadyToRun header), else "JIT".
static string CodeKind(string assembly)
{
    using var stream = File.OpenRead(assembly);
    using var pe = new System.Reflection.PortableExecutable.PEReader(stream);
    return pe.PEHeaders.CorHeader?.ManagedNativeHeaderDirectory.Size > 0 ? "ReadyToRun" : "JIT";
}
