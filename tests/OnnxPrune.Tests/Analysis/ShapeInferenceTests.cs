using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Tensors;
using OnnxPrune.Tests.Pruning;

namespace OnnxPrune.Tests.Analysis;

/// <summary>Static shape inference: symbolic dims, Reshape 0/-1, Shape→Gather→Concat chains, unknown ops.</summary>
public class ShapeInferenceTests
{
    [Test]
    public void SymbolicDimsFlowThroughConvPoolAndConcat()
    {
        var f = new ModelFactory(new Random(1));
        var x = f.B.Input("x", ElementType.Float, "N", 3, "H", 16);
        var c = f.B.Conv(x, f.W("w", 8, 3, 3, 3), strides: [2, 2], pads: [1, 1, 1, 1]);
        var p = f.B.Op("MaxPool", [c], ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }));
        var cat = f.B.Concat(1, p, p);
        f.B.Output(cat);
        var info = ShapeInference.Infer(f.B.Build().Graph);
        // The symbolic H becomes an expression dim (DimExpression): ⌊(H + 2 − 3) / 2⌋ + 1, then ⌊(· − 2) / 2⌋ + 1.
        Assert.That(Dim.Format(info[c].Shape), Does.Match(@"^\[N,8,\(.*\{H\}.*\),8\]$"));
        Assert.That(Dim.Format(info[cat].Shape), Does.Match(@"^\[N,16,\(.*\{H\}.*\),4\]$"));
        foreach (var h in new long[] { 16, 17, 31, 224 })
        {
            var bound = new DimBindings(new Dictionary<string, long> { ["H"] = h });
            Assert.That(bound.Resolve(info[c].Shape![2]).Value, Is.EqualTo((h + 2 - 3) / 2 + 1));
            Assert.That(bound.Resolve(info[cat].Shape![2]).Value, Is.EqualTo(((h + 2 - 3) / 2 + 1 - 2) / 2 + 1));
        }
        Assert.That(DimBindings.None.Resolve(info[c].Shape![2]).IsKnown, Is.False, "unbound names stay symbolic");
    }

    [Test]
    public void ReshapeResolvesZeroAndMinusOneAndShapeChains()
    {
        var f = new ModelFactory(new Random(1));
        var x = f.B.Input("x", ElementType.Float, "N", 6, 4, 5);
        var r1 = f.B.Op("Reshape", [x, f.B.Int64s("s", 0, -1, 5)]);
        var shape = f.B.Op("Shape", [x]);
        var n = f.B.Op("Unsqueeze", [f.B.Op("Gather", [shape, f.B.Initializer("i", Tensor.Scalar(0L))], ("axis", 0L)), f.B.Int64s("a", 0)]);
        var c = f.B.Op("Unsqueeze", [f.B.Op("Gather", [shape, f.B.Initializer("j", Tensor.Scalar(1L))], ("axis", 0L)), f.B.Int64s("b", 0)]);
        var r2 = f.B.Op("Reshape", [x, f.B.Concat(0, n, c, f.B.Int64s("t", 20))]);
        var unknown = f.B.Graph.AddNode("Mystery", [x], ["m"], domain: "com.example").Output(0)!;
        f.B.Output(r1, r2, unknown);
        var info = ShapeInference.Infer(f.B.Build().Graph);
        Assert.That(Dim.Format(info[r1].Shape), Is.EqualTo("[N,24,5]"));
        Assert.That(Dim.Format(info[r2].Shape), Is.EqualTo("[N,6,20]"));
        Assert.That(info[unknown].Shape, Is.Null);
    }

    [TestCaseSource(typeof(TestPaths), nameof(TestPaths.SharedModelNames))]
    public void InfersEveryDeclaredShapeOfSharedModelsConsistently(string file)
    {
        // Where a model declares an intermediate shape (value_info), known inferred dims agree with it.
        var model = OnnxModel.Load(TestPaths.SharedModel(file));
        var declared = model.Graph.Values.Where(v => v.Producer is { } p && p.OpType != "Constant" && v.HasType && v.Shape is not null)
            .ToDictionary(v => v, v => v.Shape!.ToArray());
        // Forget declarations: infer from the inputs only.
        var bare = OnnxModel.FromBytes(model.ToBytes());
        foreach (var v in bare.Graph.Values.Where(v => v.Producer is { } p && p.OpType != "Constant" && !v.IsGraphOutput && v.HasType)) v.Type = null;
        var info = ShapeInference.Infer(bare.Graph, bare.GetOpset(""));
        int compared = 0;
        foreach (var (v, shape) in declared)
        {
            var inferred = info[bare.Graph.GetValue(v.Name)].Shape;
            if (inferred is null) continue;
            Assert.That(inferred.Count, Is.EqualTo(shape.Length), v.Name);
            for (int i = 0; i < shape.Length; i++)
                if (shape[i].IsKnown && inferred[i].IsKnown) { Assert.That(inferred[i].Value, Is.EqualTo(shape[i].Value), $"{v.Name}[{i}]"); compared++; }
        }
        TestContext.Out.WriteLine($"{file}: {compared} declared dims compared");
    }
}

/// <summary>Pooling windows with ceil_mode: the static engine (analysis and cost model) agrees with ONNX Runtime,
/// including the case where the last ceil window would start in the end padding (it is dropped).</summary>
public class CeilModePoolingTests
{
    [TestCase(4, 2, 2, 0, 1)]   // ⌈3/2⌉+1 = 3 windows, the third would start at 4 (end padding): 2
    [TestCase(5, 3, 2, 1, 1)]
    [TestCase(7, 3, 3, 0, 2)]   // ⌈6/3⌉+1 = 3, last starts at 6 < 7: 3
    [TestCase(6, 2, 3, 0, 1)]   // ⌈5/3⌉+1 = 3, last starts at 6 ≥ 6: 2
    [TestCase(8, 3, 2, 1, 0)]
    public void StaticShapeOfCeilModePoolingMatchesOnnxRuntime(int n, int kernel, int stride, int padBegin, int padEnd)
    {
        var f = new ModelFactory(new Random(1));
        var x = f.B.Input("x", ElementType.Float, 1, 2, n, n);
        var pool = f.B.Op("MaxPool", [x], ("kernel_shape", new long[] { kernel, kernel }), ("strides", new long[] { stride, stride }),
            ("pads", new long[] { padBegin, padBegin, padEnd, padEnd }), ("ceil_mode", 1L));
        var conv = f.B.Conv(pool, f.W("w", 3, 2, 1, 1));
        f.B.Output(conv);
        var model = f.B.Build();

        using var session = OnnxPrune.Runtime.OrtSessions.Create(model);
        var y = OnnxPrune.Runtime.SessionExtensions.RunTensors(session, new Dictionary<string, Tensor> { ["x"] = Tensor.Zeros(ElementType.Float, [1, 2, n, n]) }).Values.Single();
        long expected = y.Shape[2];

        var info = ShapeInference.Infer(model.Graph, model.GetOpset(""));
        Assert.That(info[pool].Shape![2].Value, Is.EqualTo(expected), "shape inference (analysis)");
        // The cost model counts the Conv after the pool from the same engine: numel(Y)·C_in·k² = 3·out²·2.
        var cost = OnnxPrune.Analysis.CostModel.Of(model);
        Assert.That(cost.Total.Macs, Is.EqualTo(3 * expected * expected * 2), "cost model");
    }
}
