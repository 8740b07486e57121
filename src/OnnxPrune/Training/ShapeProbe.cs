using Microsoft.ML.OnnxRuntime;
using OnnxPrune.Graph;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;

namespace OnnxPrune.Training;

/// <summary>
/// Learns the static type and shape of every value of a model at a given input shape by running it once on ONNX Runtime
/// with every node output exposed (no shape inference of our own needed). Small integer results (shape arithmetic) are
/// kept too, so rules can read Reshape targets or Slice bounds computed from shapes.
/// </summary>
internal static class ShapeProbe
{
    private const int SmallIntLimit = 64;

    public static Dictionary<string, (ElementType Type, long[] Shape, Tensor? Value)> Run(OnnxModel forward, IReadOnlyDictionary<string, long[]> inputShapes, int seed = 1)
    {
        var probe = OnnxModel.FromBytes(forward.ToBytes(), "probe");
        var g = probe.Graph;
        foreach (var node in g.Nodes)
            foreach (var o in node.Outputs)
                if (o is not null && !o.IsGraphOutput && o.Name.Length > 0) g.AddOutput(o);
        var random = new Random(seed);
        var feeds = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var input in g.DataInputs)
        {
            var shape = inputShapes[input.Name];
            input.Shape = shape.Select(d => new Dim(d)).ToArray(); // the probe shape overrides a declared fixed batch
            var t = Tensor.Zeros(input.ElementType, shape);
            if (input.ElementType == ElementType.Float)
            {
                var span = t.AsSpan<float>();
                for (int i = 0; i < span.Length; i++) span[i] = random.NextSingle();
            }
            feeds[input.Name] = t;
        }
        using var session = OrtSessions.Create(probe, new SessionSettings { OptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC, AllowSpinning = false });
        var results = session.RunTensors(feeds);
        var info = new Dictionary<string, (ElementType, long[], Tensor?)>(StringComparer.Ordinal);
        foreach (var (name, tensor) in results)
        {
            bool small = tensor.ElementType is ElementType.Int64 or ElementType.Int32 && tensor.ElementCount <= SmallIntLimit;
            info[name] = (tensor.ElementType, tensor.Shape.ToArray(), small ? tensor : null);
        }
        foreach (var (name, tensor) in feeds) info[name] = (tensor.ElementType, tensor.Shape.ToArray(), null);
        return info;
    }
}
