// PruneBenchmark: for every model in ../shared/onnx-models and a generated model with ≥ 100 MB of weights, times
// load, analyse, prune (L2, 50% per group) and save, then measures ONNX Runtime latency before and after pruning and
// prints the MACs ratio next to the latency ratio. Figures only; nothing is asserted.
//
//   dotnet run --project tools/PruneBenchmark -c Release [-- [--models DIR] [--runs N] [--no-latency] [--no-generated]]
using System.Diagnostics;
using System.Globalization;
using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Pruning.Importance;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
string modelsDir = Path.GetFullPath(Path.Combine(FindRepoRoot(), "..", "shared", "onnx-models"));
int runs = 30;
bool latency = true, generated = true;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--models": modelsDir = args[++i]; break;
        case "--runs": runs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--no-latency": latency = false; break;
        case "--no-generated": generated = false; break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
    }
}

var work = Directory.CreateTempSubdirectory("prune-benchmark-");
var inputs = Directory.GetFiles(modelsDir, "*.onnx").Order(StringComparer.Ordinal).ToList();
if (generated)
{
    var path = Path.Combine(work.FullName, "generated_vgg_123MB.onnx");
    var clock = Stopwatch.StartNew();
    GeneratedModel.Build(seed: 1).Save(path);
    Console.Error.WriteLine($"generated {path} ({new FileInfo(path).Length / 1e6:F0} MB) in {clock.Elapsed.TotalSeconds:F1} s");
    inputs.Add(path);
}

Pruner? pruner = Pruner.Default;

// Warm-up (JIT) on a small generated model, so the first row is not charged for compilation.
{
    var warm = GeneratedModel.Build(seed: 2, widths: [8, 16, 16], spatial: 8, classes: 10);
    if (pruner is not null) await pruner.PruneAsync(warm, new PruneOptions { Criterion = new MagnitudeCriterion(2), Budget = new UniformRatioBudget(0.5) });
    warm.Save(Path.Combine(work.FullName, "warmup.onnx"));
    _ = OnnxModel.Load(Path.Combine(work.FullName, "warmup.onnx"));
}

var rows = new List<string[]>();
string[] header = ["model", "MB", "load ms", "analyse+prune ms", "save ms", "params", "params after", "MACs", "MACs ratio", "ORT ms", "ORT ms after", "latency ratio"];
foreach (var path in inputs)
{
    var name = Path.GetFileNameWithoutExtension(path);
    try
    {
        var clock = Stopwatch.StartNew();
        var model = OnnxModel.Load(path);
        double loadMs = clock.Elapsed.TotalMilliseconds;
        var dims = SymbolicDims(model);
        var costOptions = new CostOptions { Dims = dims };
        var before = CostModel.Of(model, costOptions);
        string pruneMs = "n/a", saveMs, paramsAfter = "n/a", macsRatio = "n/a";
        string outPath = Path.Combine(work.FullName, name + ".pruned.onnx");
        PruneReport? report = null;
        if (pruner is not null)
        {
            clock.Restart();
            report = await pruner.PruneAsync(model, new PruneOptions { Criterion = new MagnitudeCriterion(2), Budget = new UniformRatioBudget(0.5), Cost = costOptions });
            pruneMs = $"{clock.Elapsed.TotalMilliseconds:F0}";
            paramsAfter = $"{report.After.Parameters:N0}";
            macsRatio = before.MacsComplete ? $"{report.MacsRatio:F3}" : "n/a";
        }
        clock.Restart();
        model.Save(outPath);
        saveMs = $"{clock.Elapsed.TotalMilliseconds:F0}";
        string ortBefore = "n/a", ortAfter = "n/a", latencyRatio = "n/a";
        if (latency)
        {
            // Interleaved A B A B, best median of each: the machine is shared, so transient load hits one side less.
            var a = Latency(path, runs, dims);
            if (report is not null)
            {
                var b = Latency(outPath, runs, dims);
                a = Math.Min(a, Latency(path, runs, dims));
                b = Math.Min(b, Latency(outPath, runs, dims));
                ortAfter = $"{b:F2}";
                latencyRatio = $"{b / a:F3}";
            }
            ortBefore = $"{a:F2}";
        }
        rows.Add([name, $"{new FileInfo(path).Length / 1e6:F1}", $"{loadMs:F0}", pruneMs, saveMs, $"{before.Total.Parameters:N0}", paramsAfter,
            before.MacsComplete ? $"{before.Total.Macs:N0}" : $"{before.Total.Macs:N0}*", macsRatio, ortBefore, ortAfter, latencyRatio]);
    }
    catch (Exception e) when (e is OnnxPrune.OnnxPruneException or IOException)
    {
        rows.Add([name, "", "", "", "", "", "", "", "", "", "", "error: " + e.Message.Split('\n')[0]]);
    }
}

PrintTable(header, rows);
if (rows.Any(r => r[7].EndsWith('*'))) Console.WriteLine("* MACs incomplete (some Conv/Gemm/MatMul shapes unresolved).");
Console.WriteLine($"Symbolic H/W = 64, batch 1. ORT: best of two interleaved medians of {runs} runs (after 3 warm-ups), 1 intra-op thread, spinning off, seeded random inputs.");
Console.WriteLine("analyse+prune = dependency analysis, cost counting before/after, L2 scoring, planning (50% per group), surgery.");
work.Delete(recursive: true);
return 0;

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

static void PrintTable(string[] header, List<string[]> rows)
{
    var widths = header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
    string Line(string[] cells) => string.Join("  ", cells.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i])));
    Console.WriteLine(Line(header));
    Console.WriteLine(string.Join("  ", widths.Select(w => new string('-', w))));
    foreach (var r in rows) Console.WriteLine(Line(r));
}

static string FindRepoRoot()
{
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "OnnxPrune.sln"))) return d.FullName;
    return Directory.GetCurrentDirectory();
}

/// <summary>A VGG-style CNN with ≈ 30.7 M float weights (≈ 123 MB): conv 256→1024, three conv 1024→1024 (3×3, BN, Relu), GAP, Gemm.</summary>
internal static class GeneratedModel
{
    public static OnnxModel Build(int seed, long[]? widths = null, long spatial = 16, long classes = 1000)
    {
        var rng = new Random(seed);
        var b = new GraphBuilder();
        widths ??= [256, 1024, 1024, 1024, 1024];
        var x = b.Input("x", ElementType.Float, 1, widths[0], spatial, spatial);
        var h = x;
        for (int i = 1; i < widths.Length; i++)
        {
            long cin = widths[i - 1], cout = widths[i];
            var w = b.Initializer($"conv{i}.w", Random(rng, cout * cin * 9, MathF.Sqrt(2f / (cin * 9))), cout, cin, 3, 3);
            h = b.Conv(h, w, pads: [1, 1, 1, 1]);
            h.Producer!.Name = $"conv{i}";
            h = b.BatchNorm(h, b.Initializer($"bn{i}.scale", Random(rng, cout, 1f, 1f), cout), b.Initializer($"bn{i}.bias", Random(rng, cout, 0.1f), cout),
                b.Initializer($"bn{i}.mean", Random(rng, cout, 0.1f), cout), b.Initializer($"bn{i}.var", Random(rng, cout, 0.1f, 1f), cout));
            h = b.Relu(h);
        }
        var pooled = b.Flatten(b.GlobalAveragePool(h));
        long last = widths[^1];
        var fc = b.Gemm(pooled, b.Initializer("fc.w", Random(rng, classes * last, 0.03f), classes, last), b.Initializer("fc.b", new float[classes], classes), transB: true);
        b.Output(fc, ElementType.Float, 1, classes);
        return b.Build();
    }

    // Uniform in [offset − scale, offset + scale).
    private static float[] Random(Random rng, long n, float scale, float offset = 0)
    {
        var v = new float[n];
        for (long i = 0; i < n; i++) v[i] = offset + scale * (2 * rng.NextSingle() - 1);
        return v;
    }
}
