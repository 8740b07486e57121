using Microsoft.ML.OnnxRuntime;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;
using OnnxPrune.Training;

namespace OnnxPrune.Export;

/// <summary>
/// Everything the export stage runs on ONNX Runtime: calibration, equivalence, accuracy and latency. This is the only
/// file of <c>Export/</c> that touches <c>OnnxPrune.Runtime</c> types, so a change of runtime binding stays here.
/// </summary>
public static class ExportChecks
{
    private static SessionSettings Quiet(int threads = 0) => new() { AllowSpinning = false, IntraOpThreads = threads };

    /// <summary>Runs <paramref name="model"/> on up to <paramref name="images"/> images of <paramref name="data"/> (in order) and
    /// records the values of <paramref name="activations"/>.</summary>
    /// <exception cref="UnsupportedModelException">An activation is not a float32 tensor, or the images do not fit the model.</exception>
    public static CalibrationCollector Calibrate(OnnxModel model, IReadOnlyList<string> activations, ImageDataset data, int images,
        int batchSize = 64, double percentile = 99.99, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(activations);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(images, 1);
        // A copy that also outputs every activation to calibrate.
        var probe = OnnxModel.FromBytes(model.ToBytes(), "calibration copy");
        foreach (var name in activations)
        {
            var v = probe.Graph.FindValue(name) ?? throw new UnsupportedModelException($"Calibration: the model has no value '{name}'.");
            if (!v.IsGraphOutput) probe.Graph.AddOutput(v);
        }
        var collector = new CalibrationCollector(percentile);
        using var session = OrtSessions.Create(probe, Quiet());
        var inputName = session.InputNames[0];
        TaskData.EnsureImagesFit(inputName, Dims(session.InputMetadata[inputName]), data);
        int total = Math.Min(images, data.Count);
        var names = activations.ToArray();
        for (int start = 0; start < total; start += batchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var indices = Enumerable.Range(start, Math.Min(batchSize, total - start)).ToArray();
            var outputs = session.RunTensors(new Dictionary<string, Tensor> { [inputName] = data.ImagesTensor(indices) }, names);
            foreach (var name in names)
            {
                var t = outputs[name];
                if (t.ElementType != ElementType.Float) throw new UnsupportedModelException($"Calibration: activation '{name}' is {t.ElementType}, not float32.");
                collector.Add(name, t.AsSpan<float>());
            }
            collector.AddBatchCount(indices.Length);
        }
        return collector;
    }

    /// <summary>Compares every output of <paramref name="candidate"/> with <paramref name="reference"/> on the same inputs:
    /// seeded random ones (<paramref name="images"/> null) or real images. Inputs are converted to each model's input type
    /// (float16 models get the same values rounded).</summary>
    public static EquivalenceReport Compare(OnnxModel reference, OnnxModel candidate, int samples, int seed, ImageDataset? images = null, int imageCount = 64,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(candidate);
        using var expected = OrtSessions.Create(reference, Quiet());
        using var actual = OrtSessions.Create(candidate, Quiet());
        var worst = new Dictionary<string, (double Abs, double Rel)>(StringComparer.Ordinal);
        int runs = images is null ? samples : 1;
        for (int s = 0; s < runs; s++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Dictionary<string, Tensor> inputs;
            if (images is null) inputs = RandomInputs.Create(expected.InputMetadata, seed + s, DefaultDims(expected.InputMetadata));
            else
            {
                var first = expected.InputNames[0];
                TaskData.EnsureImagesFit(first, Dims(expected.InputMetadata[first]), images);
                var indices = Enumerable.Range(0, Math.Min(imageCount, images.Count)).ToArray();
                inputs = new Dictionary<string, Tensor> { [first] = images.ImagesTensor(indices) };
            }
            var e = expected.RunTensors(inputs);
            var a = actual.RunTensors(actual.InputMetadata.ToDictionary(m => m.Key, m => Convert(inputs[m.Key], m.Value.OnnxPruneElementType())));
            foreach (var (name, et) in e)
            {
                var (abs, rel) = a.TryGetValue(name, out var at) ? Difference(et, at) : (double.PositiveInfinity, double.PositiveInfinity);
                var (wa, wr) = worst.GetValueOrDefault(name);
                worst[name] = (Math.Max(wa, abs), Math.Max(wr, rel));
            }
        }
        return new EquivalenceReport(images is null ? "random" : images.Name, images is null ? samples : Math.Min(imageCount, images.Count),
            worst.Select(p => new OutputDifference(p.Key, p.Value.Abs, p.Value.Rel)).ToArray());
    }

    /// <summary>Top-1 accuracy of a classifier on <paramref name="data"/> (see <see cref="Evaluator"/>); float16 inputs are fed rounded values.</summary>
    public static double Accuracy(OnnxModel model, ImageDataset data, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        if (model.Graph.DataInputs.FirstOrDefault()?.ElementType is ElementType.Float16)
        {
            // Evaluator feeds float32 images: evaluate through a float32-input copy (one Cast in front).
            var copy = OnnxModel.FromBytes(model.ToBytes(), "evaluation copy");
            var x = copy.Graph.DataInputs.First();
            var readers = x.Consumers.Distinct().ToArray();
            var x32 = copy.Graph.AddInput(copy.Graph.UniqueName(x.Name + "_fp32"), ElementType.Float, x.Shape);
            var cast = copy.Graph.AddNode("Cast", [x32], [x.Name + "_cast"], index: 0);
            cast.Attributes.Set("to", (long)ElementType.Float16);
            foreach (var r in readers)
                for (int i = 0; i < r.Inputs.Count; i++) if (r.Inputs[i] == x) copy.Graph.SetInput(r, i, cast.Output(0));
            copy.Graph.RemoveInput(x);
            model = copy;
        }
        return Evaluator.Evaluate(model, data, 256, Quiet(), cancellationToken).Accuracy;
    }

    /// <summary>Median and p90 latency of one run on seeded random inputs (batch 1 for dynamic dims).</summary>
    public static LatencyFigures Latency(OnnxModel model, int threads, int warmup, int runs, int seed = 42)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var session = OrtSessions.Create(model, Quiet(threads));
        var inputs = RandomInputs.Create(session.InputMetadata, seed, DefaultDims(session.InputMetadata));
        using var binding = session.CreateBinding(inputs);
        var stats = LatencyBenchmark.Measure(binding.Run, warmup, runs);
        return new LatencyFigures(threads, stats.MedianMs, stats.P90Ms, stats.Runs);
    }

    /// <summary>The kernels ONNX Runtime runs for <paramref name="model"/> after its graph optimizations (op types from one
    /// profiled run on random inputs, e.g. QLinearConv where a QDQ Conv was fused), with how many nodes run each.</summary>
    public static IReadOnlyDictionary<string, int> ExecutedOpTypes(OnnxModel model, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(model);
        var prefix = Path.Combine(Path.GetTempPath(), $"onnxprune-profile-{Environment.ProcessId}-{Guid.NewGuid():N}");
        string? file = null;
        try
        {
            using var session = OrtSessions.Create(model, Quiet(threads) with { ProfilingFilePrefix = prefix });
            session.RunTensors(RandomInputs.Create(session.InputMetadata, 1, DefaultDims(session.InputMetadata)));
            file = session.EndProfiling();
            using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
            var nodes = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var e in json.RootElement.EnumerateArray())
                if (e.TryGetProperty("cat", out var cat) && cat.GetString() == "Node" && e.TryGetProperty("args", out var args)
                    && args.TryGetProperty("op_name", out var op) && e.TryGetProperty("name", out var name))
                    nodes[name.GetString()!.Replace("_kernel_time", "", StringComparison.Ordinal)] = op.GetString()!;
            return nodes.Values.GroupBy(o => o).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count());
        }
        finally
        {
            if (file is not null && File.Exists(file)) File.Delete(file);
        }
    }

    // Dynamic dims of random inputs: 1 for batch and non-image axes, 64 for the spatial axes of rank-4 (image) inputs.
    private static Dictionary<string, long> DefaultDims(IReadOnlyDictionary<string, NodeMetadata> inputs)
    {
        var dims = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (name, input) in inputs)
        {
            var shape = input.Dimensions;
            for (int axis = 0; axis < shape.Length; axis++)
                if (shape[axis] < 0)
                    dims[string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{name}:{axis}")] = shape.Length == 4 && axis >= 2 ? 64 : 1;
        }
        return dims;
    }

    private static long[] Dims(NodeMetadata input) => input.Dimensions.Select(d => (long)d).ToArray();

    private static Tensor Convert(Tensor t, ElementType type)
    {
        if (t.ElementType == type) return t;
        if (t.ElementType == ElementType.Float && type == ElementType.Float16)
        {
            var halves = new Half[t.ElementCount];
            System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(t.AsSpan<float>(), halves);
            return Tensor.FromArray<Half>(halves, t.Shape.ToArray());
        }
        if (t.ElementType == ElementType.Float16 && type == ElementType.Float) return Tensor.FromArray<float>(t.ToFloatArray(), t.Shape.ToArray());
        throw new UnsupportedModelException($"Cannot feed a {t.ElementType} input to a {type} model input.");
    }

    /// <summary>The smallest output scale a relative difference divides by (as <see cref="VerificationOptions.ScaleFloor"/>):
    /// outputs whose magnitude stays below it (saturated sigmoid maps on random inputs) are compared in absolute terms.</summary>
    public const double RelativeScaleFloor = 0.01;

    private static (double Abs, double Rel) Difference(Tensor expected, Tensor actual)
    {
        if (!expected.Shape.SequenceEqual(actual.Shape)) return (double.PositiveInfinity, double.PositiveInfinity);
        var e = expected.ToFloatArray();
        var a = actual.ToFloatArray();
        double abs = 0;
        for (int i = 0; i < e.Length; i++)
        {
            if (float.IsFinite(e[i]) != float.IsFinite(a[i])) return (double.PositiveInfinity, double.PositiveInfinity);
            abs = Math.Max(abs, Math.Abs((double)e[i] - a[i]));
        }
        return (abs, EquivalenceCheck.RelativeDifference(expected.ElementType == actual.ElementType ? expected : Tensor.FromArray<float>(e, expected.Shape.ToArray()),
            Tensor.FromArray<float>(a, actual.Shape.ToArray()), RelativeScaleFloor));
    }
}
