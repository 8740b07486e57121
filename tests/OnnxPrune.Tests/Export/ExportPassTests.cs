using OnnxPrune.Export;
using OnnxPrune.Graph;
using OnnxPrune.Graph.Passes;
using OnnxPrune.Tensors;
using OnnxPrune.Tests.Pruning;

namespace OnnxPrune.Tests.Export;

/// <summary>Each export pass on small random graphs: what it removes or adds, outputs against the original on ONNX Runtime,
/// onnx.checker on the result, and typed refusals that leave the model as it was.</summary>
public class ExportPassTests
{
    private static Tensor Random(Random rng, long[] shape, float lo = -1, float hi = 1)
    {
        var data = new float[Tensor.CountElements(shape)];
        for (int i = 0; i < data.Length; i++) data[i] = lo + (float)rng.NextDouble() * (hi - lo);
        return Tensor.FromArray<float>(data, shape);
    }

    private static Value BatchNorm(GraphBuilder b, Random rng, Value x, long channels) =>
        b.BatchNorm(x, b.Initializer("gamma", Random(rng, [channels], 0.5f, 2)), b.Initializer("beta", Random(rng, [channels])),
            b.Initializer("mean", Random(rng, [channels])), b.Initializer("var", Random(rng, [channels], 0.1f, 2)), 1e-3f);

    private static OnnxModel Copy(OnnxModel m) => OnnxModel.FromBytes(m.ToBytes());

    private static double WorstRelative(OnnxModel reference, OnnxModel candidate, int samples = 3) =>
        ExportChecks.Compare(reference, candidate, samples, seed: 7).Outputs.Max(o => o.MaxRel);

    private static int Count(OnnxModel m, string op) => m.Graph.Nodes.Count(n => n.OpType == op);

    [TestCase(1, true), TestCase(2, false), TestCase(3, true)]
    public void FoldBatchNorm_into_conv_is_exact(int seed, bool bias)
    {
        var rng = new Random(seed);
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, "N", 4, 9, 9);
        long groups = seed == 2 ? 2 : 1;
        var conv = b.Conv(x, b.Initializer("w", Random(rng, [6, 4 / groups, 3, 3])), bias ? b.Initializer("b", Random(rng, [6])) : null, pads: [1, 1, 1, 1], group: groups);
        var y = b.Relu(BatchNorm(b, rng, conv, 6));
        b.Output(y, ElementType.Float, "N", 6, 9, 9);
        var model = b.Build();
        var original = Copy(model);

        var result = new FoldBatchNormPass().Run(model);

        Assert.That(result.Changes, Is.EqualTo(1));
        Assert.That(Count(model, "BatchNormalization"), Is.Zero);
        Assert.That(model.Graph.Outputs[0].Name, Is.EqualTo(original.Graph.Outputs[0].Name));
        Assert.That(WorstRelative(original, model), Is.LessThan(1e-5));
        OnnxChecker.Check(model.ToBytes());
    }

    [TestCase(false), TestCase(true)]
    public void FoldBatchNorm_into_gemm_with_bias_is_exact(bool transB)
    {
        var rng = new Random(transB ? 5 : 6);
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, "N", 8);
        var w = b.Initializer("w", Random(rng, transB ? [5, 8] : [8, 5]));
        var gemm = b.Op("Gemm", [x, w, b.Initializer("c", Random(rng, [5]))], ("transB", transB ? 1L : 0L), ("beta", 0.5f), ("alpha", 2f));
        // The BN writes the graph output: folding must keep the output's name.
        var y = BatchNorm(b, rng, gemm, 5);
        b.Output(y, ElementType.Float, "N", 5);
        var model = b.Build();
        var original = Copy(model);

        Assert.That(new FoldBatchNormPass().Run(model).Changes, Is.EqualTo(1));
        Assert.That(Count(model, "BatchNormalization"), Is.Zero);
        Assert.That(model.Graph.Outputs.Select(o => o.Name), Is.EqualTo(original.Graph.Outputs.Select(o => o.Name)));
        Assert.That(WorstRelative(original, model), Is.LessThan(1e-5));
        OnnxChecker.Check(model.ToBytes());
    }

    [Test]
    public void FoldBatchNorm_into_grouped_conv_transpose_is_exact()
    {
        var rng = new Random(11);
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 1, 4, 5, 5);
        var ct = b.Op("ConvTranspose", [x, b.Initializer("w", Random(rng, [4, 3, 3, 3])), b.Initializer("b", Random(rng, [6]))], ("group", 2L), ("strides", new long[] { 2, 2 }));
        b.Output(b.Relu(BatchNorm(b, rng, ct, 6)));
        var model = b.Build();
        var original = Copy(model);

        Assert.That(new FoldBatchNormPass().Run(model).Changes, Is.EqualTo(1));
        Assert.That(WorstRelative(original, model), Is.LessThan(1e-5));
    }

    [TestCase(false), TestCase(true)]
    public void FoldBatchNorm_into_the_following_unpadded_conv_is_exact_and_padded_ones_are_kept(bool padded)
    {
        var rng = new Random(padded ? 13 : 12);
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, "N", 3, 7, 7);
        var bn = BatchNorm(b, rng, b.Relu(x), 3);
        var y = b.Conv(bn, b.Initializer("w", Random(rng, [5, 3, 3, 3])), b.Initializer("b", Random(rng, [5])), pads: padded ? [1, 1, 1, 1] : null);
        b.Output(y, ElementType.Float, "N", 5, padded ? 7 : 5, padded ? 7 : 5);
        var model = b.Build();
        var original = Copy(model);

        var result = new FoldBatchNormPass().Run(model);

        Assert.That(result.Changes, Is.EqualTo(padded ? 0 : 1), string.Join("; ", result.Notes));
        Assert.That(Count(model, "BatchNormalization"), Is.EqualTo(padded ? 1 : 0));
        if (padded) Assert.That(result.Notes.Single(), Does.Contain("pads"));
        Assert.That(WorstRelative(original, model), Is.LessThan(1e-5));
        OnnxChecker.Check(model.ToBytes());
    }

    [Test]
    public void FoldBatchNorm_keeps_a_bn_whose_conv_output_is_read_elsewhere_and_says_why()
    {
        var rng = new Random(3);
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 1, 2, 4, 4);
        var conv = b.Conv(x, b.Initializer("w", Random(rng, [3, 2, 1, 1])));
        b.Output(b.Add(BatchNorm(b, rng, conv, 3), conv));
        var model = b.Build();
        var before = model.ToBytes();

        var result = new FoldBatchNormPass().Run(model);

        Assert.That(result.Changes, Is.Zero);
        Assert.That(result.Notes.Single(), Does.Contain("other readers").And.Contain("nor is its only reader a Conv"));
        Assert.That(model.ToBytes(), Is.EqualTo(before));
    }

    [Test]
    public void RemoveIdentity_removes_identity_and_inference_dropout_bit_exactly()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 2, 3);
        var i1 = b.Op("Identity", [b.Relu(x)]);
        var d = b.OpNode("Dropout", [i1], 2).Output(0)!; // mask output unread
        var y = b.Op("Identity", [b.Sigmoid(d)]);     // writes the graph output
        b.Output(y, ElementType.Float, 2, 3);
        var model = b.Build();
        var original = Copy(model);

        var result = new RemoveIdentityPass().Run(model);

        Assert.That(result.Changes, Is.EqualTo(3));
        Assert.That(model.Graph.Nodes.Select(n => n.OpType), Is.EqualTo(new[] { "Relu", "Sigmoid" }));
        Assert.That(model.Graph.Outputs[0].Name, Is.EqualTo(y.Name));
        Assert.That(WorstRelative(original, model), Is.Zero);
        OnnxChecker.Check(model.ToBytes());
    }

    [Test]
    public void RemoveIdentity_keeps_an_identity_from_graph_input_to_graph_output()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 2);
        b.Output(b.Op("Identity", [x]), ElementType.Float, 2);
        var model = b.Build();
        var result = new RemoveIdentityPass().Run(model);
        Assert.That(result.Changes, Is.Zero);
        Assert.That(result.Notes.Single(), Does.Contain("kept"));
        Assert.That(Count(model, "Identity"), Is.EqualTo(1));
    }

    [Test]
    public void FoldShapeConstants_folds_static_shape_arithmetic_but_not_the_dynamic_batch()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, "N", 3, 4);
        var shape = b.Op("Shape", [x]);
        var c = b.Op("Gather", [shape, b.Initializer("i1", Tensor.Scalar(1L))], ("axis", 0L));      // 3: static
        var hw = b.Op("Gather", [shape, b.Initializer("i2", Tensor.Scalar(2L))], ("axis", 0L));     // 4: static
        var prod = b.Op("Mul", [c, hw]);                                                              // 12
        var n = b.Op("Gather", [shape, b.Initializer("i0", Tensor.Scalar(0L))], ("axis", 0L));      // N: dynamic
        var target = b.Concat(0, b.Op("Unsqueeze", [n, b.Int64s("ax", 0)]), b.Op("Unsqueeze", [prod, b.Int64s("ax", 0)]));
        b.Output(b.Op("Reshape", [x, target]), ElementType.Float, "N", 12);
        var model = b.Build();
        var original = Copy(model);

        var result = new FoldShapeConstantsPass().Run(model);

        Assert.That(result.Changes, Is.GreaterThan(0));
        Assert.That(Count(model, "Mul"), Is.Zero, "the static product is a constant now");
        Assert.That(Count(model, "Shape"), Is.EqualTo(1), "the dynamic batch still needs Shape");
        Assert.That(model.Graph.Initializers.Any(i => i.ElementType == ElementType.Int64 && i.ElementCount == 1 && i.Data.ToInt64Array()[0] == 12), Is.True);
        Assert.That(WorstRelative(original, model), Is.Zero);
        OnnxChecker.Check(model.ToBytes());
    }

    [Test]
    public void DeduplicateConstants_merges_equal_initializers_and_constant_nodes()
    {
        var rng = new Random(9);
        var w = Random(rng, [4, 4]);
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 1, 4);
        var y1 = b.MatMul(x, b.Initializer("w1", w));
        var y2 = b.MatMul(y1, b.Initializer("w2", Tensor.FromArray<float>(w.AsSpan<float>().ToArray(), 4, 4)));
        var y3 = b.Add(y2, b.ConstantNode(Tensor.FromArray<float>(new float[] { 1, 2, 3, 4 }, 4)));
        var y4 = b.Add(y3, b.ConstantNode(Tensor.FromArray<float>(new float[] { 1, 2, 3, 4 }, 4)));
        b.Output(b.MatMul(y4, b.Initializer("w3", Random(rng, [4, 4]))), ElementType.Float, 1, 4);
        var model = b.Build();
        var original = Copy(model);

        var result = new DeduplicateConstantsPass().Run(model);

        Assert.That(result.Changes, Is.EqualTo(2));
        Assert.That(model.Graph.Initializers.Count, Is.EqualTo(2));
        Assert.That(Count(model, "Constant"), Is.EqualTo(1));
        Assert.That(WorstRelative(original, model), Is.Zero);
        OnnxChecker.Check(model.ToBytes());
    }

    private static OnnxModel SmallCnn(int seed, int opset = 17)
    {
        var rng = new Random(seed);
        var b = new GraphBuilder(opset);
        var x = b.Input("x", ElementType.Float, "N", 3, 8, 8);
        var h = b.Relu(b.Conv(x, b.Initializer("w1", Random(rng, [8, 3, 3, 3])), b.Initializer("b1", Random(rng, [8])), pads: [1, 1, 1, 1]));
        h = b.Add(b.Conv(h, b.Initializer("w2", Random(rng, [8, 8, 3, 3])), b.Initializer("b2", Random(rng, [8])), pads: [1, 1, 1, 1]), h);
        var f = b.Flatten(b.GlobalAveragePool(b.Relu(h)));
        var logits = b.Gemm(f, b.Initializer("fc", Random(rng, [5, 8])), b.Initializer("fcb", Random(rng, [5])), transB: true);
        b.Output(logits, ElementType.Float, "N", 5);
        return b.Build();
    }

    // Calibrates on seeded random inputs in [0, 1) through the runtime seam, as the Exporter does with images.
    private static CalibrationTable Calibrate(OnnxModel model, CalibrationMethod method)
    {
        var names = QuantizeStaticPass.ActivationsToCalibrate(model);
        var rng = new Random(1);
        var images = new float[64 * 3 * 8 * 8];
        for (int i = 0; i < images.Length; i++) images[i] = (float)rng.NextDouble();
        var data = new OnnxPrune.Data.ImageDataset("random", images, new long[64], 3, 8, 8, ["a", "b", "c", "d", "e"]);
        return ExportChecks.Calibrate(model, names, data, 64).ToTable(method);
    }

    [TestCase(true, CalibrationMethod.MinMax), TestCase(false, CalibrationMethod.Percentile)]
    public void QuantizeStatic_puts_qdq_around_conv_and_gemm_and_stays_close(bool perChannel, CalibrationMethod method)
    {
        var model = SmallCnn(21);
        var original = Copy(model);
        var table = Calibrate(model, method);

        var result = new QuantizeStaticPass(table, perChannel).Run(model);

        Assert.That(result.Changes, Is.GreaterThan(0));
        foreach (var node in model.Graph.Nodes.Where(n => n.OpType is "Conv" or "Gemm"))
        {
            Assert.That(node.Input(0)!.Producer?.OpType, Is.EqualTo("DequantizeLinear"), $"{node.DisplayName} activation");
            Assert.That(node.Input(1)!.Producer?.OpType, Is.EqualTo("DequantizeLinear"), $"{node.DisplayName} weight");
            var wq = node.Input(1)!.Producer!.Input(0)!.Constant!;
            Assert.That(wq.ElementType, Is.EqualTo(ElementType.Int8));
            Assert.That(node.Input(2)!.Producer!.Input(0)!.Constant!.ElementType, Is.EqualTo(ElementType.Int32), "bias");
            Assert.That(node.Input(1)!.Producer!.Input(1)!.Constant!.ElementCount, Is.EqualTo(perChannel ? wq.Shape[node.OpType == "Conv" ? 0 : 0] : 1));
        }
        Assert.That(model.Graph.Outputs[0].Name, Is.EqualTo(original.Graph.Outputs[0].Name));
        Assert.That(model.Graph.Outputs[0].ElementType, Is.EqualTo(ElementType.Float));
        // Inputs in the calibrated range: close to float32 (8-bit steps: about 1 % of the range per tensor).
        var rng = new Random(4);
        var images = new float[16 * 3 * 8 * 8];
        for (int i = 0; i < images.Length; i++) images[i] = (float)rng.NextDouble();
        var data = new OnnxPrune.Data.ImageDataset("random", images, new long[16], 3, 8, 8, ["a", "b", "c", "d", "e"]);
        var diff = ExportChecks.Compare(original, model, 1, 0, data, 16).Outputs.Single();
        Assert.That(diff.MaxRel, Is.LessThan(0.1), diff.ToString());
        Assert.That(diff.MaxRel, Is.GreaterThan(0), "quantization changes the outputs a little");
        OnnxChecker.Check(model.ToBytes());
    }

    [Test]
    public void QuantizeStatic_layout_is_what_onnx_runtime_fuses_into_integer_kernels()
    {
        var model = SmallCnn(22);
        Assert.That(ExportChecks.ExecutedOpTypes(model).Keys, Does.Contain("Conv").Or.Contain("FusedConv"));
        new QuantizeStaticPass(Calibrate(model, CalibrationMethod.MinMax), perChannel: true).Run(model);
        var ops = ExportChecks.ExecutedOpTypes(model);
        TestContext.Out.WriteLine(string.Join(", ", ops.Select(p => $"{p.Key} {p.Value}")));
        Assert.That(ops.GetValueOrDefault("QLinearConv"), Is.EqualTo(2), string.Join(", ", ops.Keys));
        Assert.That(ops.GetValueOrDefault("QGemm"), Is.EqualTo(1), string.Join(", ", ops.Keys));
        Assert.That(ops.Keys, Does.Not.Contain("Conv").And.Not.Contain("FusedConv").And.Not.Contain("Gemm"));
    }

    [Test]
    public void QuantizeStatic_refuses_an_old_opset_a_missing_range_and_a_quantized_model_without_editing()
    {
        var old = SmallCnn(1, opset: 11);
        var before = old.ToBytes();
        var table = new CalibrationTable(new Dictionary<string, ActivationRange>(), CalibrationMethod.MinMax, 0);
        var e = Assert.Throws<UnsupportedModelException>(() => new QuantizeStaticPass(table).Run(old));
        Assert.That(e!.Message, Does.Contain("opset 11"));
        Assert.That(old.ToBytes(), Is.EqualTo(before));

        var model = SmallCnn(1);
        before = model.ToBytes();
        e = Assert.Throws<UnsupportedModelException>(() => new QuantizeStaticPass(table).Run(model));
        Assert.That(e!.Message, Does.Contain("no calibration range for activation 'x'"));
        Assert.That(model.ToBytes(), Is.EqualTo(before));

        new QuantizeStaticPass(Calibrate(model, CalibrationMethod.MinMax)).Run(model);
        before = model.ToBytes();
        e = Assert.Throws<UnsupportedModelException>(() => new QuantizeStaticPass(Calibrate(SmallCnn(1), CalibrationMethod.MinMax)).Run(model));
        Assert.That(e!.Message, Does.Contain("already quantized"));
        Assert.That(model.ToBytes(), Is.EqualTo(before));
    }

    [Test]
    public void CalibrationCollector_percentile_clips_outliers_that_minmax_keeps()
    {
        var collector = new CalibrationCollector(percentile: 99);
        var values = Enumerable.Range(0, 1000).Select(i => i / 1000f).ToArray();
        values[500] = 100; // one outlier
        collector.Add("a", values);
        var minmax = collector.ToTable(CalibrationMethod.MinMax).Find("a")!.Value;
        var pct = collector.ToTable(CalibrationMethod.Percentile).Find("a")!.Value;
        Assert.That(minmax, Is.EqualTo(new ActivationRange(0, 100)));
        Assert.That(pct.Max, Is.LessThan(1.0f).And.GreaterThan(0.95f));
        Assert.That(pct.Min, Is.LessThan(0.02f));
    }

    private static OnnxModel SmallMlp(int seed)
    {
        var rng = new Random(seed);
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, "N", 6, 16);
        var h = b.Relu(b.Add(b.MatMul(x, b.Initializer("w1", Random(rng, [16, 32]))), b.Initializer("b1", Random(rng, [32]))));
        var y = b.MatMul(h, b.Initializer("w2", Random(rng, [32, 8])));
        var z = b.MatMul(y, b.Transpose(y, 0, 2, 1)); // activation × activation: stays float
        b.Output(y, ElementType.Float, "N", 6, 8);
        b.Output(z, ElementType.Float, "N", 6, 6);
        return b.Build();
    }

    [TestCase(true), TestCase(false)]
    public void QuantizeDynamic_rewrites_weight_matmuls_keeps_output_names_and_stays_close(bool perChannel)
    {
        var model = SmallMlp(31);
        var original = Copy(model);

        // With a low weights-only threshold the 32-element bias of the Add is stored as int8 too.
        var result = new QuantizeDynamicPass(perChannel, weightOnlyMinElements: perChannel ? 16 : 0).Run(model);

        Assert.That(result.Changes, Is.EqualTo(perChannel ? 3 : 2));
        Assert.That(Count(model, "DequantizeLinear"), Is.EqualTo(perChannel ? 1 : 0));
        Assert.That(Count(model, "MatMulInteger"), Is.EqualTo(2));
        Assert.That(Count(model, "MatMul"), Is.EqualTo(1), "the activation × activation MatMul stays float");
        Assert.That(model.Graph.Outputs.Select(o => o.Name), Is.EqualTo(original.Graph.Outputs.Select(o => o.Name)));
        var diffs = ExportChecks.Compare(original, model, 2, 3).Outputs;
        Assert.That(diffs.Max(d => d.MaxRel), Is.LessThan(0.05).And.GreaterThan(0), string.Join("; ", diffs));
        OnnxChecker.Check(model.ToBytes());
    }

    [TestCase(true), TestCase(false)]
    public void Float16_converts_weights_and_keeps_io_types_on_request(bool keepIo)
    {
        var model = SmallCnn(41);
        var original = Copy(model);

        new Float16Pass(keepIo).Run(model);

        Assert.That(model.Graph.Initializers.Where(i => i.ElementType == ElementType.Float), Is.Empty);
        Assert.That(model.Graph.Initializers.Count(i => i.ElementType == ElementType.Float16), Is.EqualTo(6));
        var io = keepIo ? ElementType.Float : ElementType.Float16;
        Assert.That(model.Graph.DataInputs.Single().ElementType, Is.EqualTo(io));
        Assert.That(model.Graph.Outputs.Single().ElementType, Is.EqualTo(io));
        Assert.That(model.Graph.Outputs.Single().Name, Is.EqualTo(original.Graph.Outputs.Single().Name));
        Assert.That(WorstRelative(original, model), Is.LessThan(1e-2).And.GreaterThan(0));
        OnnxChecker.Check(model.ToBytes());
    }

    [Test]
    public void Float16_keeps_ops_without_float16_forms_in_float32_between_casts()
    {
        var rng = new Random(2);
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 1, 2, 4, 4);
        var h = b.Conv(x, b.Initializer("w", Random(rng, [2, 2, 1, 1])));
        var r = b.Op("Resize", [h, null, b.Initializer("scales", new float[] { 1, 1, 2, 2 }, 4)], ("mode", "nearest"));
        b.Output(b.Relu(r), ElementType.Float, 1, 2, 8, 8);
        var model = b.Build();
        var original = Copy(model);

        new Float16Pass(keepIoTypes: true).Run(model);

        var resize = model.Graph.Nodes.Single(n => n.OpType == "Resize");
        Assert.That(resize.Input(2)!.Constant!.ElementType, Is.EqualTo(ElementType.Float), "scales stay float32");
        Assert.That(resize.Input(0)!.Producer!.OpType, Is.EqualTo("Cast"));
        Assert.That(resize.Output(0)!.Consumers.Single().OpType, Is.EqualTo("Cast"));
        Assert.That(WorstRelative(original, model), Is.LessThan(1e-2));
        OnnxChecker.Check(model.ToBytes());
    }

    [Test]
    public void Float16_refuses_a_float16_model_without_editing()
    {
        var model = SmallCnn(1);
        new Float16Pass().Run(model);
        var before = model.ToBytes();
        Assert.Throws<UnsupportedModelException>(() => new Float16Pass().Run(model));
        Assert.That(model.ToBytes(), Is.EqualTo(before));
    }

    [Test]
    public void A_pipeline_of_export_passes_reports_each_pass()
    {
        var model = SmallCnn(5);
        var results = Exporter.FloatPasses(new ExportOptions { FoldBatchNorm = true, Cleanup = true }).Run(model);
        Assert.That(results.Select(r => r.Pass), Is.EqualTo(new[] { "remove-identity", "fold-bn", "fold-shapes", "dedup-constants", "dead-code" }));
    }
}
