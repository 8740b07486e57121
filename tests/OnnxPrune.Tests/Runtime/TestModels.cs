using Google.Protobuf;
using OnnxPrune.Onnx.Proto;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Runtime;

/// <summary>Tiny hand-built ModelProtos for runtime tests (IR 8, opset 17).</summary>
internal static class TestModels
{
    /// <summary>A tensor value declaration; dims are long (fixed) or string (symbolic).</summary>
    public static ValueInfoProto Value(string name, ElementType type, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            shape.Dim.Add(d switch
            {
                string s => new TensorShapeProto.Types.Dimension { DimParam = s },
                int i => new TensorShapeProto.Types.Dimension { DimValue = i },
                long l => new TensorShapeProto.Types.Dimension { DimValue = l },
                _ => throw new ArgumentException($"bad dim {d}"),
            });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    public static NodeProto Node(string op, string[] inputs, string[] outputs, string domain = "")
    {
        var node = new NodeProto { OpType = op, Domain = domain, Name = op + "_" + string.Join("_", outputs) };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        return node;
    }

    public static TensorProto Initializer(string name, float[] values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)ElementType.Float, RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan())) };
        t.Dims.AddRange(dims);
        return t;
    }

    public static byte[] Model(IEnumerable<NodeProto> nodes, IEnumerable<ValueInfoProto> inputs, IEnumerable<ValueInfoProto> outputs, IEnumerable<TensorProto>? initializers = null)
    {
        var graph = new GraphProto { Name = "test" };
        graph.Node.AddRange(nodes);
        graph.Input.AddRange(inputs);
        graph.Output.AddRange(outputs);
        if (initializers != null) graph.Initializer.AddRange(initializers);
        var model = new ModelProto { IrVersion = 8, ProducerName = "OnnxPrune.Tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return model.ToByteArray();
    }

    /// <summary>Bias used by <see cref="ReluAdd"/>.</summary>
    public static readonly float[] Bias = [0.5f, -1f, 2f, 0f];

    /// <summary>y = Relu(x) + b with x: float[batch, 4], b a constant initializer; also z = x * x.</summary>
    public static byte[] ReluAdd() => Model(
        [Node("Relu", ["x"], ["r"]), Node("Add", ["r", "b"], ["y"]), Node("Mul", ["x", "x"], ["z"])],
        [Value("x", ElementType.Float, "batch", 4)],
        [Value("y", ElementType.Float, "batch", 4), Value("z", ElementType.Float, "batch", 4)],
        [Initializer("b", Bias, 4)]);

    /// <summary>y = Identity(x) for one element type, fixed shape [2,3].</summary>
    public static byte[] Identity(ElementType type) => Model(
        [Node("Identity", ["x"], ["y"])],
        [Value("x", type, 2, 3)],
        [Value("y", type, 2, 3)]);

    /// <summary>A graph with an op no runtime knows.</summary>
    public static byte[] UnknownOp() => Model(
        [Node("NoSuchOperatorXyz", ["x"], ["y"])],
        [Value("x", ElementType.Float, 2)],
        [Value("y", ElementType.Float, 2)]);

    /// <summary>Larger float model for concurrency: y = MatMul(x, W) + Relu, x: [batch, 64], W: [64, 64].</summary>
    public static byte[] MatMulRelu(int seed)
    {
        var rng = new Random(seed);
        var w = new float[64 * 64];
        for (int i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() - 0.5);
        return Model(
            [Node("MatMul", ["x", "W"], ["m"]), Node("Relu", ["m"], ["y"])],
            [Value("x", ElementType.Float, "batch", 64)],
            [Value("y", ElementType.Float, "batch", 64)],
            [Initializer("W", w, 64, 64)]);
    }
}
