using Google.Protobuf;
using OnnxPrune.Graph;
using OnnxPrune.Onnx.Proto;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests;

/// <summary>Small models built in code, as messages (for broken variants) or through <see cref="GraphBuilder"/>.</summary>
public static class TestModels
{
    /// <summary>A tensor-typed value declaration.</summary>
    public static ValueInfoProto Declare(string name, ElementType type, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    /// <summary>A node message.</summary>
    public static NodeProto Node(string op, string[] inputs, string[] outputs, string? name = null)
    {
        var n = new NodeProto { OpType = op, Name = name ?? $"{op}_{outputs.FirstOrDefault()}" };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        return n;
    }

    /// <summary>A float initializer with raw data 0, 1, 2, ...</summary>
    public static TensorProto FloatInitializer(string name, params long[] dims)
    {
        long count = dims.Aggregate(1L, (a, b) => a * b);
        var values = Enumerable.Range(0, (int)count).Select(i => (float)i).ToArray();
        var t = new TensorProto { Name = name, DataType = (int)ElementType.Float };
        t.Dims.AddRange(dims);
        t.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
        return t;
    }

    /// <summary>A valid model: y = Relu(x + w) with x, w float [1, <paramref name="width"/>].</summary>
    public static ModelProto AddRelu(int width = 16)
    {
        var g = new GraphProto { Name = "add_relu" };
        g.Input.Add(Declare("x", ElementType.Float, 1, width));
        g.Initializer.Add(FloatInitializer("w", 1, width));
        g.Node.Add(Node("Add", ["x", "w"], ["s"]));
        g.Node.Add(Node("Relu", ["s"], ["y"]));
        g.Output.Add(Declare("y", ElementType.Float, 1, width));
        return Wrap(g);
    }

    /// <summary>A model message around a graph (IR 8, opset 17).</summary>
    public static ModelProto Wrap(GraphProto graph, long irVersion = 8, long opset = 17)
    {
        var m = new ModelProto { IrVersion = irVersion, ProducerName = "OnnxPrune.Tests", Graph = graph };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return m;
    }

    /// <summary>A small CNN built with <see cref="GraphBuilder"/>: Conv-BN-Relu, Conv, GAP, Flatten, Gemm, Softmax.</summary>
    public static OnnxModel SmallCnn(int seed = 1)
    {
        var random = new Random(seed);
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var b = new GraphBuilder(opset: 17, irVersion: 8);
        var x = b.Input("x", ElementType.Float, "N", 3, 16, 16);
        var c1 = b.Conv(x, b.Initializer("conv1.w", Values(8 * 3 * 3 * 3), 8, 3, 3, 3), b.Initializer("conv1.b", Values(8), 8), pads: [1, 1, 1, 1]);
        var bn = b.BatchNorm(c1, b.Initializer("bn.scale", Values(8), 8), b.Initializer("bn.bias", Values(8), 8),
            b.Initializer("bn.mean", Values(8), 8), b.Initializer("bn.var", Enumerable.Repeat(1f, 8).ToArray(), 8));
        var r = b.Relu(bn);
        var c2 = b.Conv(r, b.Initializer("conv2.w", Values(16 * 8 * 3 * 3), 16, 8, 3, 3), strides: [2, 2], pads: [1, 1, 1, 1]);
        var flat = b.Flatten(b.GlobalAveragePool(b.Relu(c2)));
        var logits = b.Gemm(flat, b.Initializer("fc.w", Values(10 * 16), 10, 16), b.Initializer("fc.b", Values(10), 10), transB: true);
        b.Output(b.Softmax(logits, 1), ElementType.Float, "N", 10);
        return b.Build();
    }
}
