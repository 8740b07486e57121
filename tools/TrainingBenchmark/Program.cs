using Microsoft.ML.OnnxRuntime;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using OnnxPrune.Graph;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;
using OnnxPrune.Training;

// Times one training step (forward + backward on ONNX Runtime + optimizer update) against forward-only inference of the
// same model and batch, with the weights as initializers (deployed form) and as graph inputs (as in the training graph).
//   dotnet run --project tools/TrainingBenchmark -c Release [-- [--models a.onnx,b.onnx] [--batches 64,128] [--iterations N] [--threads T] [--profile DIR]
//     [--batchnorm frozen|batch] [--conv-weight-grad im2col|conv] [--train-optimization extended|all] [--in-graph-sgd]]
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
string? profileDir = Arg("--profile", "") is { Length: > 0 } p ? Path.GetFullPath(p) : null;
// ORT writes the profile file but does not create its folder.
if (profileDir is not null) Directory.CreateDirectory(profileDir);
// Defaults are the library's (GradientBuilderOptions); the CLI's finetune uses --bn batch.
var builderDefaults = new GradientBuilderOptions();
var bnMode = Arg("--batchnorm", builderDefaults.BatchNorm == BatchNormMode.Frozen ? "frozen" : "batch") == "batch" ? BatchNormMode.BatchStatistics : BatchNormMode.Frozen;
// The training session's ORT optimization level; the default is the trainer's.
bool inGraphSgd = args.Contains("--in-graph-sgd");
var trainLevel = Arg("--train-optimization", Trainer.TrainingGraphOptimization == GraphOptimizationLevel.ORT_ENABLE_ALL ? "all" : "extended") == "extended"
    ? GraphOptimizationLevel.ORT_ENABLE_EXTENDED : GraphOptimizationLevel.ORT_ENABLE_ALL;
var convGrad = Arg("--conv-weight-grad", builderDefaults.ConvWeightGradient == ConvWeightGradientMethod.Im2ColGemm ? "im2col" : "conv") == "im2col" ? ConvWeightGradientMethod.Im2ColGemm : ConvWeightGradientMethod.Convolution;

Console.WriteLine($"ONNX Runtime CPU, intra-op threads {(threads == 0 ? "default" : threads)}, spinning off, {iterations} timed runs after 3 warm-up runs");
Console.WriteLine($"training graph: BatchNormalization {(bnMode == BatchNormMode.Frozen ? "frozen" : "batch statistics")}, conv weight gradient {(convGrad == ConvWeightGradientMethod.Im2ColGemm ? "im2col" : "conv")}, training session optimization level {trainLevel}");
Console.WriteLine("wall = median wall ms per run; cpu = mean process CPU ms per run (steadier on a shared machine with --threads 1)");
Console.WriteLine($"{"model",-16} {"batch",5} {"fwd init wall/cpu",18} {"fwd input wall/cpu",19} {"step wall/cpu",16} {"step/fwd init wall/cpu",23} {"step/fwd input wall/cpu",24}");
foreach (var path in models)
{
    var forward = OnnxModel.Load(path);
    foreach (var batch in batches)
    {
        var options = new SessionSettings { IntraOpThreads = threads, AllowSpinning = false };
        var x = Tensor.Zeros(ElementType.Float, batch, 1, 28, 28);
        var rng = new Random(1);
        var xs = x.AsSpan<float>();
        for (int i = 0; i < xs.Length; i++) xs[i] = rng.NextSingle();

        // 1. Forward, weights as initializers.
        (double Wall, double Cpu) fwdInit;
        using (var s = OrtSessions.Create(forward, options))
        using (var bind = s.CreateBinding(new Dictionary<string, Tensor> { [s.InputNames[0]] = x }, [s.OutputNames[0]]))
            fwdInit = Measure(iterations, bind.Run);

        // 2. Forward, weights as graph inputs (what the training graph sees).
        var graph = GradientBuilder.Build(forward, new GradientBuilderOptions { BatchSize = batch, BatchNorm = bnMode, ConvWeightGradient = convGrad });
        var asInputs = WeightsAsInputs(forward, graph.Parameters.Select(q => q.Name).ToHashSet());
        (double Wall, double Cpu) fwdInput;
        using (var s = OrtSessions.Create(asInputs, options))
        {
            var feeds = Feeds(s, forward, x);
            using var bind = s.CreateBinding(feeds, [s.OutputNames[0]]);
            fwdInput = Measure(iterations, bind.Run);
        }

        // 3. Training step: forward + backward + optimizer update on the bound weights.
        (double Wall, double Cpu) step;
        double optimizerMs;
        var trainOptions = profileDir is null ? options with { OptimizationLevel = trainLevel } : options with { OptimizationLevel = trainLevel, ProfilingFilePrefix = Path.Combine(profileDir, $"{Path.GetFileNameWithoutExtension(path)}_b{batch}") };
        using (var s = OrtSessions.Create(graph.Model, trainOptions))
        {
            var feeds = Feeds(s, forward, x);
            using var bind = s.CreateBinding(feeds);
            var optimizer = Optimizer.Create(new OptimizerOptions { Kind = OptimizerKind.Sgd, Momentum = 0.9f }, graph.Parameters);
            var weights = graph.Parameters.Select(q => bind.Inputs[q.Name]).ToArray();
            long optimizerTicks = 0;
            int runs = 0;
            step = Measure(iterations, () =>
            {
                bind.Run();
                var t0 = Stopwatch.GetTimestamp();
                SgdUpdate(optimizer, weights, bind, graph);
                optimizerTicks += Stopwatch.GetTimestamp() - t0;
                runs++;
            });
            optimizerMs = optimizerTicks * 1000.0 / Stopwatch.Frequency / runs;
            if (profileDir is not null) Summarize(s.EndProfiling());
        }
        Console.WriteLine(string.Format(ci, "{0,-16} {1,5} {2,8:F1} /{3,8:F1} {4,9:F1} /{5,8:F1} {6,7:F1} /{7,7:F1} {8,11:F2} /{9,10:F2} {10,11:F2} /{11,11:F2}",
            Path.GetFileNameWithoutExtension(path), batch, fwdInit.Wall, fwdInit.Cpu, fwdInput.Wall, fwdInput.Cpu, step.Wall, step.Cpu,
            step.Wall / fwdInit.Wall, step.Cpu / fwdInit.Cpu, step.Wall / fwdInput.Wall, step.Cpu / fwdInput.Cpu) +
            string.Format(ci, "   (SGD update {0:F2} ms of the step, {1:N0} parameters)", optimizerMs, graph.Parameters.Sum(q => q.ElementCount)));

        // 4. The alternative design: SGD with momentum inside the graph (weights and velocities in, updated ones out,
        //    copied back into the inputs for the next step), to compare with the C# update on the bound buffers.
        if (inGraphSgd)
        {
            // Both designs alive at once and timed in alternating rounds, so drift of the machine hits both alike.
            var withSgd = WithInGraphSgd(graph, momentum: 0.9f);
            using var gs = OrtSessions.Create(withSgd, options with { OptimizationLevel = trainLevel });
            var gFeeds = Feeds(gs, forward, x);
            gFeeds["sgd.lr"] = Tensor.Scalar(1e-6f);
            using var gBind = gs.CreateBinding(gFeeds);
            gBind.Run(); // outputs are allocated by the first run and reused by the next ones
            var pairs = graph.Parameters.SelectMany(q => new[] { (In: q.Name, Out: q.Name + ".updated"), (In: q.Name + ".velocity", Out: q.Name + ".velocity.updated") })
                .Select(t => (gBind.Inputs[t.In], gBind.Outputs[t.Out])).ToArray();
            using var cs = OrtSessions.Create(graph.Model, options with { OptimizationLevel = trainLevel });
            using var cBind = cs.CreateBinding(Feeds(cs, forward, x));
            var optimizer = Optimizer.Create(new OptimizerOptions { Kind = OptimizerKind.Sgd, Momentum = 0.9f }, graph.Parameters);
            var weights = graph.Parameters.Select(q => cBind.Inputs[q.Name]).ToArray();
            const int rounds = 6;
            var (inGraphCpu, csharpCpu) = (new double[rounds], new double[rounds]);
            for (int round = 0; round < rounds; round++)
            {
                csharpCpu[round] = Measure(Math.Max(3, iterations / 2), () =>
                {
                    cBind.Run();
                    SgdUpdate(optimizer, weights, cBind, graph);
                }).Cpu;
                inGraphCpu[round] = Measure(Math.Max(3, iterations / 2), () =>
                {
                    gBind.Run();
                    foreach (var (input, output) in pairs) output.AsSpan<float>().CopyTo(input.AsSpan<float>());
                }).Cpu;
            }
            var ratios = inGraphCpu.Zip(csharpCpu, (a, b) => a / b).Order().ToArray();
            Console.WriteLine(string.Format(ci, "{0,-16} {1,5}   SGD in the graph vs in C#, {2} alternating rounds: {3,7:F1} vs {4,7:F1} cpu ms per step (means); per-round ratio median {5:F3} (range {6:F3}–{7:F3})",
                Path.GetFileNameWithoutExtension(path), batch, rounds, inGraphCpu.Average(), csharpCpu.Average(), (ratios[rounds / 2 - 1] + ratios[rounds / 2]) / 2, ratios[0], ratios[^1]));
        }
    }
}
return 0;

// Median wall time and mean process CPU time per run, in ms. On a shared machine the CPU time (with one intra-op thread)
// is the steadier measure of the work done; the wall time includes waiting for a core.
static (double Wall, double Cpu) Measure(int iterations, Action run)
{
    for (int i = 0; i < 3; i++) run();
    var times = new double[iterations];
    var process = Process.GetCurrentProcess();
    process.Refresh();
    var cpu0 = process.TotalProcessorTime;
    for (int i = 0; i < iterations; i++)
    {
        var t = Stopwatch.GetTimestamp();
        run();
        times[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
    }
    process.Refresh();
    var cpu = (process.TotalProcessorTime - cpu0).TotalMilliseconds / iterations;
    Array.Sort(times);
    return (times[iterations / 2], cpu);
}

static Dictionary<string, Tensor> Feeds(InferenceSession s, OnnxModel forward, Tensor x)
{
    var constants = forward.Graph.Constants.ToDictionary(c => c.Name);
    var feeds = new Dictionary<string, Tensor>();
    foreach (var (name, input) in s.InputMetadata)
        feeds[name] = name == forward.Graph.DataInputs.First().Name ? x
            : constants.TryGetValue(name, out var c) ? c.Data
            : Tensor.Zeros(input.OnnxPruneElementType(), input.Dimensions.Select(d => (long)Math.Max(1, d)).ToArray());
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

// The C# optimizer step on the bound weights, from the gradients the last run of the binding wrote.
static void SgdUpdate(Optimizer optimizer, Tensor[] weights, RunBinding bind, TrainingGraph graph)
{
    optimizer.BeginStep();
    for (int i = 0; i < weights.Length; i++)
        optimizer.Update(i, weights[i].AsSpan<float>(), bind.Outputs[graph.Parameters[i].GradientName].AsSpan<float>(), 1e-6f);
}

// The training graph plus SGD with momentum as ONNX ops: v' = μ·v + g, w' = w − lr·v' per parameter; the gradient
// outputs are replaced by the updated weights and velocities.
static OnnxModel WithInGraphSgd(TrainingGraph graph, float momentum)
{
    var model = OnnxModel.FromBytes(graph.Model.ToBytes());
    var g = model.Graph;
    var b = new GraphBuilder(model);
    var lr = b.Input("sgd.lr", ElementType.Float);
    var mu = b.Initializer("sgd.momentum", Tensor.Scalar(momentum));
    foreach (var p in graph.Parameters)
    {
        var grad = g.GetValue(p.GradientName);
        g.RemoveOutput(grad);
        var velocity = b.Input(p.Name + ".velocity", ElementType.Float, p.Shape.Cast<object>().ToArray());
        var newVelocity = g.AddNode("Add", [b.Mul(velocity, mu), grad], [p.Name + ".velocity.updated"]).Output(0)!;
        var newWeight = g.AddNode("Sub", [g.GetValue(p.Name), b.Mul(newVelocity, lr)], [p.Name + ".updated"]).Output(0)!;
        b.Output(newVelocity, ElementType.Float, p.Shape.Cast<object>().ToArray());
        b.Output(newWeight, ElementType.Float, p.Shape.Cast<object>().ToArray());
    }
    return model;
}

// Time per op type from an ONNX Runtime JSON profile (node events only).
static void Summarize(string profilePath)
{
    using var doc = JsonDocument.Parse(File.ReadAllText(profilePath));
    var byOp = new Dictionary<string, (double Us, int Count)>();
    var byNode = new Dictionary<string, (string Op, string Shapes, double Us, int Count)>();
    foreach (var e in doc.RootElement.EnumerateArray())
    {
        if (!e.TryGetProperty("cat", out var cat) || cat.GetString() != "Node") continue;
        if (!e.TryGetProperty("args", out var a) || !a.TryGetProperty("op_name", out var op)) continue;
        var name = e.GetProperty("name").GetString()!;
        if (!name.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
        var key = op.GetString()!;
        double dur = e.GetProperty("dur").GetDouble();
        var (us, n) = byOp.GetValueOrDefault(key);
        byOp[key] = (us + dur, n + 1);
        var node = name[..^"_kernel_time".Length];
        var shapes = a.TryGetProperty("input_type_shape", out var inShapes) ? ShapeList(inShapes) + " → " + (a.TryGetProperty("output_type_shape", out var outShapes) ? ShapeList(outShapes) : "?") : "";
        var entry = byNode.GetValueOrDefault(node, (key, shapes, 0, 0));
        byNode[node] = (key, shapes, entry.Us + dur, entry.Count + 1);
    }
    double total = byOp.Values.Sum(v => v.Us);
    Console.WriteLine($"  profile {profilePath}: kernel time by op type");
    foreach (var (op, (us, n)) in byOp.OrderByDescending(kv => kv.Value.Us).Take(12))
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "    {0,-22} {1,6:F1}%  {2,5} calls", op, 100 * us / total, n));
    Console.WriteLine("  slowest nodes (mean ms per call)");
    foreach (var (node, v) in byNode.OrderByDescending(kv => kv.Value.Us).Take(10))
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "    {0,6:F1}% {1,7:F2} ms  {2,-14} {3,-28} {4}", 100 * v.Us / total, v.Us / v.Count / 1000, v.Op, node.Length > 28 ? node[..28] : node, v.Shapes));
}

// ORT's [{"float":[64,16,28,28]}, ...] as "[64,16,28,28] [16,16,3,3]".
static string ShapeList(JsonElement list) =>
    string.Join(' ', list.EnumerateArray().Select(t => t.EnumerateObject().FirstOrDefault() is { Value.ValueKind: JsonValueKind.Array } p
        ? "[" + string.Join(',', p.Value.EnumerateArray().Select(d => d.GetInt64())) + "]" : "?"));
