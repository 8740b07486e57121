using OnnxPrune.Analysis;
using OnnxPrune.Analysis.Rules;
using OnnxPrune.Graph;
using OnnxPrune.Tensors;
using static OnnxPrune.Tests.Pruning.TestModels;

namespace OnnxPrune.Tests.Pruning;

public class CostModelTests
{
    private static float[] Ones(long n) => Enumerable.Repeat(1f, checked((int)n)).ToArray();

    [Test]
    public void ConvMacsFollowTheFormula()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 1, 3, 8, 8);
        var y = b.Conv(x, b.Initializer("w", Ones(16 * 3 * 3 * 3), 16, 3, 3, 3), b.Initializer("b", Ones(16), 16), pads: [1, 1, 1, 1]);
        var z = b.Conv(y, b.Initializer("w2", Ones(8 * 16 * 3 * 3), 8, 16, 3, 3), strides: [2, 2], pads: [1, 1, 1, 1]);
        b.Output(z);
        var cost = CostModel.Of(b.Build());
        // Cout·Hout·Wout·Cin·kh·kw: 16·8·8·3·3·3, then 8·4·4·16·3·3
        Assert.That(cost.Total.Macs, Is.EqualTo(16L * 8 * 8 * 27 + 8L * 4 * 4 * 16 * 9));
        Assert.That(cost.Total.Parameters, Is.EqualTo(16 * 27 + 16 + 8 * 16 * 9));
        Assert.That(cost.Total.WeightBytes, Is.EqualTo(4 * (16 * 27 + 16 + 8 * 16 * 9)));
        Assert.That(cost.MacsComplete, Is.True);
    }

    [Test]
    public void DepthwiseAndGroupedConvMacs()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 2, 16, 8, 8);
        var dw = b.Conv(x, b.Initializer("dw", Ones(16 * 9), 16, 1, 3, 3), pads: [1, 1, 1, 1], group: 16);
        var gc = b.Conv(dw, b.Initializer("gw", Ones(32 * 4), 32, 4, 1, 1), group: 4);
        b.Output(gc);
        var cost = CostModel.Of(b.Build());
        // depthwise: N·C·H·W·k² ; grouped: N·Cout·H·W·(Cin/g)
        Assert.That(cost.NodeMacs.Values, Is.EquivalentTo(new[] { 2L * 16 * 64 * 9, 2L * 32 * 64 * 4 }));
    }

    [Test]
    public void GemmMatMulAndConvTransposeMacs()
    {
        var b = new GraphBuilder();
        var a = b.Input("a", ElementType.Float, 2, 10);
        var g = b.Gemm(a, b.Initializer("wg", Ones(50), 5, 10), transB: true);
        var m = b.Input("m", ElementType.Float, 2, 3, 4, 5);
        var mm = b.MatMul(m, b.Initializer("wm", Ones(30), 5, 6));
        var t = b.Input("t", ElementType.Float, 1, 4, 5, 5);
        var ct = b.Op("ConvTranspose", [t, b.Initializer("wt", Ones(4 * 2 * 9), 4, 2, 3, 3)], ("strides", new long[] { 2, 2 }));
        b.Output(g, mm, ct);
        var cost = CostModel.Of(b.Build());
        Assert.That(cost.NodeMacs[g.Producer!], Is.EqualTo(2 * 5 * 10));                  // M·N·K
        Assert.That(cost.NodeMacs[mm.Producer!], Is.EqualTo(2 * 3 * 4 * 6 * 5));          // numel(Y)·K
        Assert.That(cost.NodeMacs[ct.Producer!], Is.EqualTo(1 * 4 * 5 * 5 * 2 * 3 * 3));  // numel(X)·(Cout/g)·k²
    }

    [Test]
    public void AnUnnamedDynamicDimIsNamedByInputAndAxisNotByAnEmptyName()
    {
        // Some exporters write dim_param "" for a dynamic dim; the MACs hint named it "give --dim  =VALUE".
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, "N", 3, "", "W");
        b.Output(b.Conv(x, b.Initializer("w", Ones(4 * 3), 4, 3, 1, 1)));
        var missing = CostModel.Of(b.Build()).MissingDims;
        Assert.That(missing, Is.EquivalentTo(new[] { "W", "x[2]" }));
        Assert.That(missing, Has.None.Empty.And.None.EqualTo(" "));
    }

    [Test]
    public void SymbolicDimsNeedValuesAndDeclaredShapesAreUsed()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, "N", 3, "H", "W");
        var y = b.Conv(x, b.Initializer("w", Ones(4 * 3), 4, 3, 1, 1));
        b.Output(y);
        var model = b.Build();
        var unknown = CostModel.Of(model);
        Assert.That(unknown.MacsComplete, Is.False);
        Assert.That(unknown.MissingDims, Is.EquivalentTo(new[] { "H", "W" }), "N is the batch (default 1)");
        var known = CostModel.Of(model, new CostOptions { Dims = new Dictionary<string, long> { ["H"] = 10, ["W"] = 6 }, Batch = 2 });
        Assert.That(known.Total.Macs, Is.EqualTo(2L * 4 * 10 * 6 * 3));
        // A declared output shape wins over propagation.
        y.SetTensorType(ElementType.Float, [new Dim(1), new Dim(4), new Dim(5), new Dim(5)]);
        Assert.That(CostModel.Of(model).Total.Macs, Is.EqualTo(4L * 25 * 3));
    }

    [Test]
    public void MatMulTakesKFromTheWeightWhenTheActivationShapeIsUnknownAndExternalShapesWin()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 1, 64, 1, 1);
        var squeezed = b.Op("Squeeze", [x, b.Int64s("axes", 2, 3)]);   // not propagated by the built-in rules
        var y = b.MatMul(squeezed, b.Initializer("w", Ones(640), 64, 10));
        b.Output(y, ElementType.Float, 1, 10);
        var model = b.Build();
        Assert.That(CostModel.Of(model).Total.Macs, Is.EqualTo(10 * 64));
        var external = CostModel.Of(model, new CostOptions { Shapes = v => v == y ? [3, 10] : null });
        Assert.That(external.Total.Macs, Is.EqualTo(3 * 10 * 64));
    }

    [Test]
    public void ResNet20MacsMatchTheArchitecturesHandCount()
    {
        var model = OnnxModel.Load(TestPaths.SharedModel("resnet20_cifar10_sclbl.onnx"));
        var cost = CostModel.Of(model);
        var convs = model.Graph.Nodes.Where(n => n.OpType == "Conv").ToArray();
        Assert.That(convs, Has.Length.EqualTo(21), "19 3×3 convs + 2 1×1 projection shortcuts");
        // 32×32 input, channels 16/32/64 at 32²/16²/8²:
        long expected = 16L * 1024 * 3 * 9          // stem
            + 6L * 16 * 1024 * 16 * 9                // stage 1
            + 32L * 256 * 16 * 9 + 5L * 32 * 256 * 32 * 9 + 32L * 256 * 16   // stage 2 (+ 1×1 shortcut)
            + 64L * 64 * 32 * 9 + 5L * 64 * 64 * 64 * 9 + 64L * 64 * 32      // stage 3 (+ 1×1 shortcut)
            + 64L * 10;                              // classifier
        Assert.That(cost.MacsComplete, Is.True);
        Assert.That(cost.Total.Macs, Is.EqualTo(expected));
    }

    [TestCaseSource(typeof(TestPaths), nameof(TestPaths.SharedModelNames))]
    public void EverySharedModelsMacsAreCompleteOnceItsInputDimsAreGiven(string file)
    {
        var model = OnnxModel.Load(TestPaths.SharedModel(file));
        var dims = new Dictionary<string, long>();
        foreach (var input in model.Graph.DataInputs)
            for (int i = 1; i < (input.Shape?.Count ?? 0); i++)
                if (input.Shape![i].Param is { } p) dims[p] = 64;
        var cost = CostModel.Of(model, new CostOptions { Dims = dims });
        Assert.That(cost.UncountedNodes.Select(n => n.DisplayName), Is.Empty);
        Assert.That(cost.Total.Macs, Is.GreaterThan(0));
        Assert.That(cost.NodeMacs.Keys, Is.EquivalentTo(model.Graph.Nodes.Where(n => n.OpType is "Conv" or "ConvTranspose" or "Gemm" or "MatMul")));
    }

    [Test]
    public void AWeightReachedThroughAReshapeScalesItsMatMul()
    {
        // CNTK-style: constant [4,2,2,3] → Reshape [16,3] → MatMul(x[1,16]); unit = index on the constant's axis 0.
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 1, 16);
        var w = b.Initializer("w", Ones(48), 4, 2, 2, 3);
        var y = b.MatMul(x, b.Reshape(w, 16, 3));
        b.Output(y);
        var model = b.Build();
        var cost = CostModel.Of(model);
        Assert.That(cost.Total.Macs, Is.EqualTo(16 * 3));
        var g = new PruningGroup
        {
            Id = 0, Kind = GroupKind.Channels, Root = y.Producer!, Size = 4,
            Items = [new ConstantSliceItem { Value = w, Axis = 0, IsScored = true }],
        };
        Assert.That(cost.PerUnit(g), Is.EqualTo(new UnitCost(12, 48, 12)));
        Assert.That(cost.Estimate([(g, 1L)]), Is.EqualTo(new ModelCost(12, 48, 4 * 3)), "one unit left: 12 floats; MACs 1·4·3 (the int64 shape is no parameter)");
    }

    [Test]
    public void Fp16WeightsCountTwoBytes()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float16, 1, 3, 4, 4);
        b.Output(b.Conv(x, b.Initializer("w", Convert(Ones(24), ElementType.Float16, 8, 3, 1, 1))));
        var cost = CostModel.Of(b.Build());
        Assert.That((cost.Total.Parameters, cost.Total.WeightBytes), Is.EqualTo((24L, 48L)));
    }

    [Test]
    public void PerUnitCostAndEstimateMatchHandCounts()
    {
        // conv1: W1[3,2,1,1] + b1[3] on 4×4; conv2: W2[2,3,1,1].
        var t = BuildTwoConvs(Ones(6), Ones(3), Ones(6), cin: 2, c1: 3, c2: 2);
        var cost = CostModel.Of(t.Model);
        long macs1 = 3 * 16 * 2, macs2 = 2 * 16 * 3;
        Assert.That(cost.Total.Macs, Is.EqualTo(macs1 + macs2));
        var unit = cost.PerUnit(t.Conv1);
        // one conv1 channel: a W1 row (2) + a bias (1) + a W2 column (2); MACs: 1/3 of conv1 and 1/3 of conv2
        Assert.That(unit.Parameters, Is.EqualTo(5));
        Assert.That(unit.WeightBytes, Is.EqualTo(20));
        Assert.That(unit.Macs, Is.EqualTo(macs1 / 3.0 + macs2 / 3.0).Within(1e-9));
        // Keep 1 of conv1's 3 and 1 of conv2's 2: W1[1,2] b1[1] W2[1,1]; conv1 MACs 1·16·2, conv2 1·16·1 (bilinear, exact)
        var after = cost.Estimate([(t.Conv1, 1L), (t.Conv2, 1L)]);
        Assert.That(after, Is.EqualTo(new ModelCost(2 + 1 + 1, 4 * 4, 32 + 16)));
    }
}

/// <summary>The cost model and the analysis share one shape engine and one rule registry.</summary>
public class CostModelRuleTests
{
    // Replaces Relu's rule: same shapes and coupling, but counts numel(X) MACs and counts its shape inferences.
    private sealed class CountingReluRule : OpRule
    {
        public int Inferences;
        public override IReadOnlyList<string> OpTypes { get; } = ["Relu"];
        public override void InferShapes(ShapeContext ctx) { Inferences++; ctx.OutputLikeInput(); }
        public override void Couple(CouplingContext ctx)
        {
            for (int i = 0; i < ctx.Rank(ctx.In(0)!); i++) ctx.Same(ctx.In(0)!, i, ctx.Out(0)!, i);
        }
        public override bool CountsMacs => true;
        public override long? Macs(MacContext ctx) => ctx.Input(0) is { } x ? MacContext.Product(x) : null;
    }

    private static (OnnxModel Model, Value Relu) ConvRelu(params object[] input)
    {
        var f = new ModelFactory(new Random(3));
        var x = f.B.Input("x", ElementType.Float, input);
        var r = f.B.Op("Relu", [f.B.Conv(x, f.W("w", 4, 3, 3, 3), pads: [1, 1, 1, 1])]);
        f.B.Output(f.B.Conv(r, f.W("w2", 2, 4, 1, 1)));
        return (f.B.Build(), r);
    }

    [Test]
    public void ACustomRuleRegistryAppliesToCostsAndTheAnalysisShapesAreReused()
    {
        var (model, relu) = ConvRelu(1, 3, 8, 8);
        var rule = new CountingReluRule();
        var registry = OpRuleRegistry.CreateDefault().Replace(rule);
        var analysis = new DependencyAnalyzer(registry).Run(model);
        Assert.That(rule.Inferences, Is.EqualTo(1), "the analysis infers once");
        var cost = CostModel.Of(model, analysis);
        Assert.That(cost.NodeMacs[relu.Producer!], Is.EqualTo(4 * 8 * 8), "the custom rule counted the Relu");
        Assert.That(rule.Inferences, Is.EqualTo(1), "static shapes: the cost model reused the analysis's, no second inference");
        Assert.That(CostModel.Of(model).NodeMacs.ContainsKey(relu.Producer!), Is.False, "the default registry does not count Relu");
        Assert.That(CostModel.Of(model, new CostOptions { Rules = registry }).NodeMacs[relu.Producer!], Is.EqualTo(4 * 8 * 8));
    }

    [Test]
    public void SymbolicAnalysisShapesAreConcretizedByTheSameEngine()
    {
        var (model, relu) = ConvRelu("N", 3, "H", "W");
        var analysis = DependencyAnalyzer.Analyze(model);
        // Windows over symbolic sizes are expression dims in the symbolic pass (issue 12; a 3×3 pad-1 conv keeps H and W);
        // the cost model resolves them under the bindings.
        Assert.That(Dim.Format(analysis.Shapes[relu].Shape), Is.EqualTo("[N,4,H,W]"));
        var cost = CostModel.Of(model, analysis, new CostOptions { Dims = new Dictionary<string, long> { ["H"] = 5, ["W"] = 6 }, Batch = 2 });
        var conv2 = relu.Consumers.Single();
        Assert.That(cost.NodeMacs[conv2], Is.EqualTo(2L * 2 * 5 * 6 * 4));
        Assert.That(cost.MacsComplete, Is.True);
    }
}
