using OnnxPrune.Graph;
using OnnxPrune.Graph.Passes;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;
using OnnxPrune.Training;

namespace OnnxPrune.Tests.Graph;

/// <summary>Fixed-batch exports made batch-free: outputs at batch B equal B runs of the original at batch 1.</summary>
public class SymbolicBatchPassTests
{
    /// <summary>A torch.onnx-style fixed-batch-1 CNN: Conv → Relu → Reshape [1, −1] (Flatten as Reshape) → Gemm.</summary>
    public static OnnxModel FixedBatchCnn(long[] flattenTarget)
    {
        var r = new Random(3);
        float[] W(int n) => Enumerable.Range(0, n).Select(_ => r.NextSingle() - 0.5f).ToArray();
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 1, 2, 4, 4);
        var h = b.Relu(b.Conv(x, b.Initializer("w", W(3 * 2 * 9), 3, 2, 3, 3), b.Initializer("bias", W(3), 3), pads: [1, 1, 1, 1]));
        var flat = b.Reshape(h, flattenTarget);
        var y = b.Gemm(flat, b.Initializer("fc", W(5 * 48), 5, 48), b.Initializer("fc_b", W(5), 5), transB: true);
        b.Output(y, ElementType.Float, 1, 5);
        return b.Build();
    }

    private static Tensor Random(int seed, params long[] shape)
    {
        var t = Tensor.Zeros(ElementType.Float, shape);
        var r = new Random(seed);
        var s = t.AsSpan<float>();
        for (int i = 0; i < s.Length; i++) s[i] = r.NextSingle() * 2 - 1;
        return t;
    }

    [TestCase(new long[] { 1, -1 }, "0")]
    [TestCase(new long[] { 1, 48 }, "0")]
    public void BatchOfFourEqualsFourRunsOfTheFixedBatchOriginal(long[] target, string rewrittenTo)
    {
        var original = FixedBatchCnn(target);
        var copy = BatchFreeModel.Copy(original);
        Assert.That(copy.Graph.DataInputs.Single().Shape![0].Param, Is.EqualTo("batch"));
        Assert.That(copy.Graph.Outputs.Single().Shape![0].Param, Is.EqualTo("batch"));
        var reshape = copy.Graph.Nodes.Single(n => n.OpType == "Reshape");
        Assert.That(reshape.Input(1)!.Constant!.Data.ToInt64Array()[0].ToString(), Is.EqualTo(rewrittenTo));
        Assert.That(original.Graph.DataInputs.Single().Shape![0].Value, Is.EqualTo(1), "the caller's model is not modified");

        var x = Random(7, 4, 2, 4, 4);
        using var batched = OrtSessions.Create(copy);
        var all = batched.RunTensors(new Dictionary<string, Tensor> { ["x"] = x }).Values.Single().ToFloatArray();
        Assert.That(all, Has.Length.EqualTo(20));
        using var single = OrtSessions.Create(original);
        for (int i = 0; i < 4; i++)
        {
            var one = Tensor.FromArray<float>(x.ToFloatArray().AsSpan(i * 32, 32).ToArray(), 1, 2, 4, 4);
            var expected = single.RunTensors(new Dictionary<string, Tensor> { ["x"] = one }).Values.Single().ToFloatArray();
            Assert.That(all.AsSpan(i * 5, 5).ToArray(), Is.EqualTo(expected).Within(1e-5f), $"sample {i}");
        }
    }

    [Test]
    public void WithoutShapesAReshapeWithoutMinusOneGetsMinusOne()
    {
        var model = FixedBatchCnn([1, 48]);
        var result = new SymbolicBatchPass().Run(model);
        Assert.That(model.Graph.Nodes.Single(n => n.OpType == "Reshape").Input(1)!.Constant!.Data.ToInt64Array(), Is.EqualTo(new long[] { -1, 48 }));
        Assert.That(result.Notes, Has.Some.Contains("→ -1"));
    }

    [Test]
    public void AReshapeWithNoExactRewriteIsRefusedByNameBeforeAnyEdit()
    {
        // Without declared intermediate shapes, [1, −1] can take neither 0 (input's leading dim unknown) nor −1 (already one).
        var model = FixedBatchCnn([1, -1]);
        var before = model.ToBytes();
        var reshape = model.Graph.Nodes.Single(n => n.OpType == "Reshape");
        var e = Assert.Throws<UnsupportedModelException>(() => new SymbolicBatchPass().Run(model));
        Assert.That(e!.Message, Does.Contain(reshape.DisplayName).And.Contain("hard-codes the batch 1"));
        Assert.That(model.ToBytes(), Is.EqualTo(before));
    }

    /// <summary>A fixed-batch-1 RGB classifier whose extra channels are built from constants at the export's batch:
    /// Conv → Relu [1, 4, 6, 6], concatenated on channels with Expand(learned [1, 1, 6, 6], [1, 1, 6, 6]),
    /// ConstantOfShape([1, 1, 6, 6]) and Cast(Tile(int64 [1, 1, 6, 6], [1, 1, 1, 1])) (all three hard-code the batch 1 and
    /// would give one sample where the Concat needs B), then Reshape [1, −1] → Gemm (6 logits).</summary>
    public static OnnxModel FixedBatchBroadcasts(int seed = 3)
    {
        var r = new Random(seed);
        float[] W(int n, float scale) => Enumerable.Range(0, n).Select(_ => (r.NextSingle() * 2 - 1) * scale).ToArray();
        var b = new GraphBuilder(opset: 17);
        var x = b.Input("pixels", ElementType.Float, 1, 3, 12, 12);
        var h = b.Relu(b.Conv(x, b.Initializer("conv.w", W(108, 0.4f), 4, 3, 3, 3), b.Initializer("conv.b", W(4, 0.1f), 4), strides: [2, 2], pads: [1, 1, 1, 1]));
        var expanded = b.Op("Expand", [b.Initializer("plane", W(36, 0.5f), 1, 1, 6, 6), b.Int64s("expand_shape", 1, 1, 6, 6)]);
        var filled = b.Op("ConstantOfShape", [b.Int64s("fill_shape", 1, 1, 6, 6)], ("value", Tensor.FromArray<float>([0.25f], 1)));
        var marks = Enumerable.Range(0, 36).Select(i => (long)(i % 3)).ToArray();
        var tiled = b.Op("Cast", [b.Op("Tile", [b.Initializer("marks", Tensor.FromArray<long>(marks, 1, 1, 6, 6)), b.Int64s("repeats", 1, 1, 1, 1)])], ("to", (long)ElementType.Float));
        var all = b.Concat(1, h, expanded, filled, tiled);
        var logits = b.Gemm(b.Reshape(all, 1, -1), b.Initializer("fc.w", W(6 * 252, 0.2f), 6, 252), b.Initializer("fc.b", W(6, 0.1f), 6), transB: true);
        b.Output(logits, ElementType.Float, 1, 6);
        return b.Build();
    }

    [Test]
    public void ExpandTileAndConstantOfShapeTakeTheRunTimeBatch()
    {
        var original = FixedBatchBroadcasts();
        var copy = BatchFreeModel.Copy(original);
        foreach (var op in new[] { "Expand", "ConstantOfShape", "Tile" })
        {
            var node = copy.Graph.Nodes.Single(n => n.OpType == op);
            var shapeInput = node.Input(op == "ConstantOfShape" ? 0 : 1)!;
            Assert.That(shapeInput.Constant, Is.Null, $"{op}: the hard-coded shape is replaced");
            Assert.That(shapeInput.Producer!.OpType, Is.EqualTo("Concat"), op);
        }
        var x = Random(9, 8, 3, 12, 12);
        using var batched = OrtSessions.Create(copy);
        var all = batched.RunTensors(new Dictionary<string, Tensor> { ["pixels"] = x }).Values.Single();
        Assert.That(all.Shape, Is.EqualTo(new long[] { 8, 6 }));
        var flat = all.ToFloatArray();
        using var single = OrtSessions.Create(original);
        for (int i = 0; i < 8; i++)
        {
            var one = Tensor.FromArray<float>(x.ToFloatArray().AsSpan(i * 432, 432).ToArray(), 1, 3, 12, 12);
            var expected = single.RunTensors(new Dictionary<string, Tensor> { ["pixels"] = one }).Values.Single().ToFloatArray();
            Assert.That(flat.AsSpan(i * 6, 6).ToArray(), Is.EqualTo(expected).Within(1e-5f), $"sample {i}");
        }
        // Without the pass the fixed-batch model cannot take 8 samples at all.
        var loose = OnnxModel.FromBytes(original.ToBytes(), "loose");
        loose.Graph.DataInputs.Single().Shape = [new Dim("batch"), 3, 12, 12];
        loose.Graph.Outputs.Single().Shape = [new Dim("batch"), 6];
        using var unpatched = OrtSessions.Create(loose);
        Assert.That(() => unpatched.RunTensors(new Dictionary<string, Tensor> { ["pixels"] = x }), Throws.InstanceOf<Exception>());
    }

    [Test]
    public void ExpandOfABatchedValueByOneIsLeftAlone()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 1, 4);
        b.Output(b.Op("Expand", [x, b.Int64s("to", 1, 4)]), ElementType.Float, 1, 4);
        var model = b.Build();
        var result = new SymbolicBatchPass().Run(model);
        Assert.That(model.Graph.Nodes.Single(n => n.OpType == "Expand").Input(1)!.Constant, Is.Not.Null, "1 broadcasts against any batch");
        Assert.That(result.Notes, Has.None.Contains("Expand"));
    }

    [Test]
    public void TileThatRepeatsABatchedValueIsRefusedByNameBeforeAnyEdit()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 2, 4);
        b.Output(b.Op("Tile", [x, b.Int64s("repeats", 2, 1)]), ElementType.Float, 4, 4);
        var model = b.Build();
        var before = model.ToBytes();
        var tile = model.Graph.Nodes.Single(n => n.OpType == "Tile");
        var e = Assert.Throws<UnsupportedModelException>(() => new SymbolicBatchPass().Run(model));
        Assert.That(e!.Message, Does.Contain(tile.DisplayName).And.Contain("not a batch-free computation"));
        Assert.That(model.ToBytes(), Is.EqualTo(before));
    }

    [Test]
    public void AFixedBatchOneExportWithExpandTileAndConstantOfShapeFinetunesAtBatchEight()
    {
        var dir = TestPaths.TempDir();
        var (teacher, student, output) = (Path.Combine(dir, "teacher.onnx"), Path.Combine(dir, "student.onnx"), Path.Combine(dir, "tuned.onnx"));
        FixedBatchBroadcasts(1).Save(teacher);
        FixedBatchBroadcasts(2).Save(student);
        var images = OnnxPrune.Tests.Training.DistillationTests.WriteImages(20, 20, 16);
        var (code, stdout, stderr) = OnnxPrune.Tests.Training.TrainingCliTests.Cli("finetune", student, output, "--teacher", teacher, "--data", "images:" + images,
            "--steps", "30", "--batch", "8", "--optimizer", "adamw", "--lr", "0.01", "--threads", "1");
        Assert.That(code, Is.EqualTo(0), stderr);
        var m = System.Text.RegularExpressions.Regex.Match(stdout, @"mean squared gap to the teacher on \d+ held-out images ([0-9.eE+-]+) → ([0-9.eE+-]+)");
        Assert.That(m.Success, stdout);
        double before = double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        double after = double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(after, Is.LessThan(before), "trained at batch 8");
        var tuned = OnnxModel.Load(output);
        Assert.That(tuned.Graph.DataInputs.Single().Shape![0].Value, Is.EqualTo(1), "the saved model keeps the fixed batch");
        Assert.That(tuned.Graph.Nodes.Single(n => n.OpType == "Expand").Input(1)!.Constant, Is.Not.Null, "and its own constants");
        Assert.That(tuned.Graph.Initializers.Single(c => c.Name == "plane").Data.ToFloatArray(),
            Is.Not.EqualTo(OnnxModel.Load(student).Graph.Initializers.Single(c => c.Name == "plane").Data.ToFloatArray()), "the expanded constant trained");
    }

    [Test]
    public void AModelWithASymbolicBatchIsLeftAlone()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, "N", 3);
        b.Output(b.Relu(x));
        var model = b.Build();
        Assert.That(new SymbolicBatchPass().Run(model).Changes, Is.Zero);
        Assert.That(BatchFreeModel.For(model, 8), Is.SameAs(model));
    }
}

/// <summary>The shared real models with a fixed batch: the batch-free copy at batch 2 equals two runs of the original.</summary>
public class SharedModelBatchFreeTests
{
    /// <summary>The fixed-batch models the pass refuses, with what the reason must name.</summary>
    private static readonly Dictionary<string, string> ExpectedRefusals = new()
    {
        ["xfeat_256.onnx"] = "Resize node", // constant Resize sizes [1, C, H, W]: no exact rewrite
    };

    /// <summary>
    /// Shared models whose inputs are float tensors of fixed shape with batch 1 and whose outputs do not depend on the
    /// batch's composition (resnet32_cifar_opencimtc's opset-10 BatchNormalizations declare their mean/variance outputs,
    /// so ONNX Runtime normalizes them with batch statistics: batch 2 differs from two runs of 1 by design).
    /// </summary>
    public static IEnumerable<string> FixedBatchModels() => TestPaths.SharedModelNames().Where(n =>
    {
        var m = OnnxModel.Load(TestPaths.SharedModel(n));
        return SymbolicBatchPass.FixedBatch(m) == 1 && m.Graph.DataInputs.All(i => i.ElementType == ElementType.Float && i.Shape!.All(d => d.Value is not null))
            && !m.Graph.Nodes.Any(x => x.OpType == "BatchNormalization" && x.Outputs.Skip(1).Any(o => o is { Name.Length: > 0 }));
    });

    [TestCaseSource(nameof(FixedBatchModels))]
    public void BatchOfTwoEqualsTwoRunsOfTheOriginal(string name)
    {
        var original = OnnxModel.Load(TestPaths.SharedModel(name));
        OnnxModel copy;
        try
        {
            copy = BatchFreeModel.Copy(original);
        }
        catch (UnsupportedModelException e) when (ExpectedRefusals.TryGetValue(name, out var reason))
        {
            TestContext.Out.WriteLine($"{name}: refused: {e.Message}");
            Assert.That(e.Message, Does.Contain(reason));
            return;
        }
        Assert.That(ExpectedRefusals.ContainsKey(name), Is.False, $"{name} is now made batch-free: take it off ExpectedRefusals");
        var r = new Random(5);
        var inputs = original.Graph.DataInputs.ToDictionary(i => i.Name, i =>
        {
            var shape = i.Shape!.Select(d => d.Value!.Value).ToArray();
            shape[0] = 2;
            var t = Tensor.Zeros(ElementType.Float, shape);
            foreach (ref var v in t.AsSpan<float>()) v = r.NextSingle();
            return t;
        });
        using var batched = OrtSessions.Create(copy);
        var both = batched.RunTensors(inputs);
        using var single = OrtSessions.Create(original);
        for (int s = 0; s < 2; s++)
        {
            var one = inputs.ToDictionary(p => p.Key, p =>
            {
                long per = p.Value.ElementCount / 2;
                var shape = p.Value.Shape.ToArray(); shape[0] = 1;
                return Tensor.FromArray<float>(p.Value.AsSpan<float>().Slice((int)(s * per), (int)per).ToArray(), shape);
            });
            foreach (var (output, expected) in single.RunTensors(one))
            {
                var all = both[output].ToFloatArray();
                var e = expected.ToFloatArray();
                Assert.That(all.Length, Is.EqualTo(2 * e.Length), $"{name}: output '{output}'");
                float scale = e.Max(MathF.Abs) + 1e-6f;
                double worst = 0;
                for (int i = 0; i < e.Length; i++) worst = Math.Max(worst, Math.Abs(all[s * e.Length + i] - e[i]) / scale);
                Assert.That(worst, Is.LessThan(1e-4), $"{name}: output '{output}', sample {s}");
            }
        }
    }
}
