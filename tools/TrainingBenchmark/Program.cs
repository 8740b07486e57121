using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using OnnxPrune.Graph;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;
using OnnxPrune.Training;

// Times one training step (forward + backward on ONNX Runtime + optimizer update) against forward-only inference of the
// same model and batch, with the weights as initializers (deployed form) and as graph inputs (as in the training graph).
//   dotnet run --project tools/TrainingBenchmark -c Release [-- [--models a.onnx,b.onnx] [--batches 64,128] [--iterations N] [--threads T] [--profile DIR]]
var ci = CultureInfo.InvariantCulture;
string Arg(string name, string fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}
var models = Arg("--models", "onnx-models/fmnist-resnet.onnx,onnx-models/fmnist-vit.onnx").Split(',');
var batches = Arg("--batches", "64,128").Split(',').Select(s => int.Parse(s, ci)).ToArray();
int iterations = int.Parse(Arg("--iterations", "20"), ci);
int threads = int.Parse(Arg("--threads", "0"), ci);
string? profileDir = Arg("--profile", "") is { Length: > 0 } p ? p : null;
var bnMode = Arg("--batchnorm", "frozen") == "batch" ? BatchNormMode.BatchStatistics : BatchNormMode.Frozen;

Console.WriteLine($"ONNX Runtime CPU, intra-op threads {(threads == 0 ? "default" : threads)}, spinning off, {iterations} timed runs after 3 warm-up runs; median ms");
Console.WriteLine($"{"model",-22} {"batch",5} {"fwd init",9} {"fwd input",9} {"step",9} {"step/fwd init",14} {"step/fwd input",15}");
foreach (var path in models)
{
    var forward = OnnxModel.Load(path);
    foreach (var batch in batches)
    {
        var options = new SessionOptions { IntraOpThreads = threads, AllowSpinning = false };
        var x = Tensor.Zeros(ElementType.Float, batch, 1, 28, 28);
        var rng = new Random(1);
        var xs = x.AsSpan<float>();
        for (int i = 0; i < xs.Length; i++) xs[i] = rng.NextSingle();

        // 1. Forward, weights as initializers.
        double fwdInit;
        using (var s = new InferenceSession(forward.ToBytes(), options))
        using (var bind = s.CreateBinding(new Dictionary<string, Tensor> { [s.Inputs[0].Name] = x }, [s.Outputs[0].Name]))
            fwdInit = Median(iterations, bind.Run);

        // 2. Forward, weights as graph inputs (what the training graph sees).
        var graph = GradientBuilder.Build(forward, new GradientBuilderOptions { BatchSize = batch, BatchNorm = bnMode });
        var asInputs = WeightsAsInputs(forward, graph.Parameters.Select(q => q.Name).ToHashSet());
        double fwdInput;
        using (var s = new InferenceSession(asInputs.ToBytes(), options))
        {
            var feeds = Feeds(s, forward, x);
            using var bind = s.CreateBinding(feeds, [s.Outputs[0].Name]);
            fwdInput = Median(iterations, bind.Run);
        }

        // 3. Training step: forward + backward + optimizer update on the bound weights.
        double step;
        var trainOptions = profileDir is null ? options : options with { ProfilingFilePrefix = Path.Combine(profileDir, $"{Path.GetFileNameWithoutExtension(path)}_b{batch}") };
        using (var s = new InferenceSession(graph.Model.ToBytes(), trainOptions))
        {
            var feeds = Feeds(s, forward, x);
            using var bind = s.CreateBinding(feeds);
            var optimizer = Optimizer.Create(new OptimizerOptions { Kind = OptimizerKind.Sgd, Momentum = 0.9f }, graph.Parameters);
            var weights = graph.Parameters.Select(q => bind.Inputs[q.Name]).ToArray();
            step = Median(iterations, () =>
            {
                bind.Run();
                optimizer.BeginStep();
                for (int i = 0; i < weights.Length; i++)
                    optimizer.Update(i, weights[i].AsSpan<float>(), bind.Outputs[graph.Parameters[i].GradientName].AsSpan<float>(), 1e-6f);
            });
            if (profileDir is not null) Summarize(s.EndProfiling());
        }
        Console.WriteLine(string.Format(ci, "{0,-22} {1,5} {2,9:F2} {3,9:F2} {4,9:F2} {5,14:F2} {6,15:F2}",
            Path.GetFileNameWithoutExtension(path), batch, fwdInit, fwdInput, step, step / fwdInit, step / fwdInput));
    }
}
return 0;

static double Median(int iterations, Action run)
{
    for (int i = 0; i < 3; i++) run();
    var times = new double[iterations];
    for (int i = 0; i < iterations; i++)
    {
        var t = Stopwatch.GetTimestamp();
        run();
        times[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
    }
    Array.Sort(times);
    return times[iterations / 2];
}

static Dictionary<string, Tensor> Feeds(InferenceSession s, OnnxModel forward, Tensor x)
{
    var constants = forward.Graph.Constants.ToDictionary(c => c.Name);
    var feeds = new Dictionary<string, Tensor>();
    foreach (var input in s.Inputs)
        feeds[input.Name] = input.Name == forward.Graph.DataInputs.First().Name ? x
            : constants.TryGetValue(input.Name, out var c) ? c.Data
            : Tensor.Zeros(input.ElementType, input.Shape.Select(d => Math.Max(1, d)).ToArray());
    return feeds;
}

static OnnxModel WeightsAsInputs(OnnxModel forward, HashSet<string> names)
{
    var copy = OnnxModel.FromBytes(forward.ToBytes());
    var g = copy.Graph;
    foreach (var c in g.Constants.Where(c => names.Contains(c.Name)).ToList())
    {
        var uses = c.Value.Consumers.Distinct().SelectMany(n => n.Inputs.Select((v, i) => (n, i, v)).Where(t => t.v == c.Value)).Select(t => (t.n, t.i)).ToList();
        foreach (var (n, i) in uses) g.SetInput(n, i, null);
        var shape = c.Shape.Select(d => new Dim(d)).ToArray();
        if (c.Kind == ConstantKind.Initializer) g.RemoveInitializer(c); else g.RemoveNode(c.Node!);
        var input = g.AddInput(c.Name, ElementType.Float, shape);
        foreach (var (n, i) in uses) g.SetInput(n, i, input);
    }
    return copy;
}

// Time per op type from an ONNX Runtime JSON profile (node events only).
static void Summarize(string profilePath)
{
    using var doc = JsonDocument.Parse(File.ReadAllText(profilePath));
    var byOp = new Dictionary<string, (double Us, int Count)>();
    foreach (var e in doc.RootElement.EnumerateArray())
    {
        if (!e.TryGetProperty("cat", out var cat) || cat.GetString() != "Node") continue;
        if (!e.TryGetProperty("args", out var a) || !a.TryGetProperty("op_name", out var op)) continue;
        if (!e.GetProperty("name").GetString()!.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
        var key = op.GetString()!;
        var (us, n) = byOp.GetValueOrDefault(key);
        byOp[key] = (us + e.GetProperty("dur").GetDouble(), n + 1);
    }
    double total = byOp.Values.Sum(v => v.Us);
    Console.WriteLine($"  profile {profilePath}: kernel time by op type");
    foreach (var (op, (us, n)) in byOp.OrderByDescending(kv => kv.Value.Us).Take(12))
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "    {0,-22} {1,6:F1}%  {2,5} calls", op, 100 * us / total, n));
}
