using OnnxPrune.Graph;
using OnnxPrune.Tensors;
using OnnxPrune.Training;

namespace OnnxPrune.Tests.Training;

/// <summary>One gradient check per op rule and attribute variant: tiny models, float32 central differences.</summary>
public class GradientRuleTests
{
    private static (GraphBuilder B, Random R) Start(int seed = 1) => (new GraphBuilder(opset: 17), new Random(seed));

    private static Value T(GraphBuilder b, Random r, string name, float margin, params long[] shape) =>
        b.Initializer(name, GradientCheck.Values(r, (int)shape.Aggregate(1L, (x, y) => x * y), margin), shape);

    private static OnnxModel Finish(GraphBuilder b, Value y)
    {
        b.Output(y);
        return b.Build();
    }

    private static void CheckAll(OnnxModel model, int expectedParameters, float h = 1e-2f, GradientBuilderOptions? options = null)
    {
        var checkedParams = GradientCheck.Check(model, h: h, options: options);
        Assert.That(checkedParams, Has.Count.EqualTo(expectedParameters), "trainable tensors");
    }

    public static IEnumerable<TestCaseData> ConvCases()
    {
        yield return new TestCaseData(new long[] { 2, 3, 6, 6 }, new long[] { 4, 3, 3, 3 }, new long[] { 1, 1 }, new long[] { 1, 1, 1, 1 }, new long[] { 1, 1 }, 1L, "NOTSET").SetName("Conv 3x3 padded");
        yield return new TestCaseData(new long[] { 2, 3, 7, 7 }, new long[] { 4, 3, 3, 3 }, new long[] { 2, 2 }, new long[] { 1, 1, 1, 1 }, new long[] { 1, 1 }, 1L, "NOTSET").SetName("Conv strided");
        yield return new TestCaseData(new long[] { 2, 4, 5, 5 }, new long[] { 6, 2, 3, 3 }, new long[] { 1, 1 }, new long[] { 0, 1, 1, 0 }, new long[] { 1, 1 }, 2L, "NOTSET").SetName("Conv grouped asymmetric pads");
        yield return new TestCaseData(new long[] { 2, 4, 6, 6 }, new long[] { 4, 1, 3, 3 }, new long[] { 2, 2 }, new long[] { 1, 1, 1, 1 }, new long[] { 1, 1 }, 4L, "NOTSET").SetName("Conv depthwise strided");
        yield return new TestCaseData(new long[] { 1, 2, 8, 8 }, new long[] { 3, 2, 3, 3 }, new long[] { 1, 1 }, new long[] { 1, 0, 2, 1 }, new long[] { 2, 2 }, 1L, "NOTSET").SetName("Conv dilated");
        yield return new TestCaseData(new long[] { 2, 2, 7, 7 }, new long[] { 3, 2, 3, 3 }, new long[] { 2, 2 }, null, new long[] { 1, 1 }, 1L, "SAME_UPPER").SetName("Conv auto_pad SAME_UPPER");
        yield return new TestCaseData(new long[] { 2, 5, 4, 4 }, new long[] { 3, 5, 1, 1 }, new long[] { 1, 1 }, new long[] { 0, 0, 0, 0 }, new long[] { 1, 1 }, 1L, "NOTSET").SetName("Conv 1x1");
        yield return new TestCaseData(new long[] { 2, 3, 9 }, new long[] { 4, 3, 3 }, new long[] { 2 }, new long[] { 1, 1 }, new long[] { 1 }, 1L, "NOTSET").SetName("Conv 1-D");
    }

    [TestCaseSource(nameof(ConvCases))]
    public void Conv(long[] xShape, long[] wShape, long[] strides, long[]? pads, long[] dilations, long group, string autoPad)
    {
        foreach (var method in Enum.GetValues<ConvWeightGradientMethod>())
            ConvWith(method, xShape, wShape, strides, pads, dilations, group, autoPad);
    }

    private static void ConvWith(ConvWeightGradientMethod method, long[] xShape, long[] wShape, long[] strides, long[]? pads, long[] dilations, long group, string autoPad)
    {
        var (b, r) = Start();
        var x = T(b, r, "x", 0f, xShape);
        var w = T(b, r, "w", 0f, wShape);
        var bias = T(b, r, "b", 0f, wShape[0]);
        var attrs = new List<(string, object)> { ("strides", strides), ("dilations", dilations), ("group", group) };
        if (pads is not null) attrs.Add(("pads", pads));
        if (autoPad != "NOTSET") attrs.Add(("auto_pad", autoPad));
        CheckAll(Finish(b, b.Op("Conv", [x, w, bias], attrs.ToArray())), 3, options: new GradientBuilderOptions { ConvWeightGradient = method });
    }

    /// <summary>Seeded random 2-D convolutions: any group count, kernel, stride, dilation and asymmetric padding.</summary>
    [Test]
    public void ConvOnRandomShapes([Range(1, 10)] int seed)
    {
        var r = new Random(1000 + seed);
        long n = r.Next(1, 3), group = r.Next(3) switch { 0 => 1, 1 => 2, _ => 3 }, cg = r.Next(1, 3), og = r.Next(1, 3);
        if (group * og < 2) og = 2; // a one-element bias would not count as trainable
        long[] kernel = [r.Next(1, 4), r.Next(1, 4)], strides = [r.Next(1, 4), r.Next(1, 4)], dilations = [r.Next(1, 3), r.Next(1, 3)];
        var pads = new long[4];
        var size = new long[2];
        for (int i = 0; i < 2; i++)
        {
            long reach = (kernel[i] - 1) * dilations[i] + 1;
            pads[i] = r.Next((int)kernel[i]);
            pads[i + 2] = r.Next((int)kernel[i]);
            size[i] = Math.Max(reach - pads[i] - pads[i + 2], 2) + r.Next(0, 6);
        }
        TestContext.Out.WriteLine($"x [{n},{group * cg},{size[0]},{size[1]}] w [{group * og},{cg},{kernel[0]},{kernel[1]}] group {group} strides [{string.Join(",", strides)}] pads [{string.Join(",", pads)}] dilations [{string.Join(",", dilations)}]");
        foreach (var method in Enum.GetValues<ConvWeightGradientMethod>())
            ConvWith(method, [n, group * cg, size[0], size[1]], [group * og, cg, kernel[0], kernel[1]], strides, pads, dilations, group, "NOTSET");
    }

    /// <summary>Seeded random broadcasting pairs (ranks up to 4, either side broadcast) for Add, Sub, Mul and Div.</summary>
    [Test]
    public void BroadcastArithmeticOnRandomShapes([Range(1, 8)] int seed)
    {
        var r = new Random(2000 + seed);
        int rank = r.Next(2, 5);
        var full = Enumerable.Range(0, rank).Select(_ => (long)r.Next(1, 4)).ToArray();
        // Each operand keeps a suffix of the axes (numpy rule) and sets some kept axes to 1.
        long[] Operand() => full[r.Next(rank)..].Select(d => r.Next(3) == 0 ? 1L : d).ToArray() is { Length: > 0 } a ? a : [full[^1]];
        // One-element tensors do not count as trainable (they are scalars), so both operands get at least two.
        long[] Trainable() { while (true) { var a = Operand(); if (a.Aggregate(1L, (x, y) => x * y) >= 2) return a; } }
        if (full.Aggregate(1L, (x, y) => x * y) < 2) full[^1] = 2;
        var (aShape, bShape) = (Trainable(), Trainable());
        var op = new[] { "Add", "Sub", "Mul", "Div" }[r.Next(4)];
        TestContext.Out.WriteLine($"{op} [{string.Join(",", aShape)}] [{string.Join(",", bShape)}]");
        BroadcastArithmetic(op, aShape, bShape);
    }

    /// <summary>Seeded random MatMul shapes: vectors, matrices and broadcast batch dims.</summary>
    [Test]
    public void MatMulOnRandomShapes([Range(1, 8)] int seed)
    {
        var r = new Random(3000 + seed);
        long[] aShape, bShape;
        do
        {
            long m = r.Next(1, 5), k = r.Next(1, 5), p = r.Next(1, 5);
            var batch = Enumerable.Range(0, r.Next(0, 3)).Select(_ => (long)r.Next(1, 4)).ToArray();
            long[] Batch() => batch[r.Next(batch.Length + 1)..].Select(d => r.Next(3) == 0 ? 1L : d).ToArray();
            aShape = r.Next(5) == 0 ? [k] : [.. Batch(), m, k];
            bShape = r.Next(5) == 0 && aShape.Length > 1 ? [k] : [.. Batch(), k, p];
        }
        // One-element tensors do not count as trainable (they are scalars).
        while (aShape.Aggregate(1L, (x, y) => x * y) < 2 || bShape.Aggregate(1L, (x, y) => x * y) < 2);
        TestContext.Out.WriteLine($"MatMul [{string.Join(",", aShape)}] [{string.Join(",", bShape)}]");
        MatMul(aShape, bShape);
    }

    [TestCase(1L, new long[] { 2, 2 }, new long[] { 1, 1, 1, 1 }, new long[] { 1, 1 })]
    [TestCase(2L, new long[] { 1, 1 }, new long[] { 0, 0, 0, 0 }, new long[] { 0, 0 })]
    public void ConvTranspose(long group, long[] strides, long[] pads, long[] outputPadding)
    {
        var (b, r) = Start();
        var x = T(b, r, "x", 0f, 2, 4, 3, 3);
        var w = T(b, r, "w", 0f, 4, 3, 3, 3);
        var bias = T(b, r, "b", 0f, 3 * group);
        CheckAll(Finish(b, b.Op("ConvTranspose", [x, w, bias], ("strides", strides), ("pads", pads), ("output_padding", outputPadding), ("group", group))), 3);
    }

    [TestCase(0L, 0L, 1f, 1f)]
    [TestCase(0L, 1L, 0.5f, 2f)]
    [TestCase(1L, 0L, 1.5f, 0.5f)]
    [TestCase(1L, 1L, 1f, 1f)]
    public void Gemm(long transA, long transB, float alpha, float beta)
    {
        var (b, r) = Start();
        var a = transA == 0 ? T(b, r, "a", 0f, 3, 4) : T(b, r, "a", 0f, 4, 3);
        var w = transB == 0 ? T(b, r, "w", 0f, 4, 5) : T(b, r, "w", 0f, 5, 4);
        var c = T(b, r, "c", 0f, 1, 5);
        CheckAll(Finish(b, b.Op("Gemm", [a, w, c], ("transA", transA), ("transB", transB), ("alpha", alpha), ("beta", beta))), 3);
    }

    [TestCase(new long[] { 2, 3, 4 }, new long[] { 4, 5 })]
    [TestCase(new long[] { 2, 1, 3, 4 }, new long[] { 3, 4, 2 })]
    [TestCase(new long[] { 4 }, new long[] { 2, 4, 3 })]
    [TestCase(new long[] { 2, 3, 4 }, new long[] { 4 })]
    [TestCase(new long[] { 2, 3, 4 }, new long[] { 2, 4, 3 })]
    public void MatMul(long[] aShape, long[] bShape)
    {
        var (b, r) = Start();
        CheckAll(Finish(b, b.MatMul(T(b, r, "a", 0f, aShape), T(b, r, "b", 0f, bShape))), 2);
    }

    [TestCase("Add", new long[] { 2, 3, 4 }, new long[] { 3, 1 })]
    [TestCase("Sub", new long[] { 2, 1, 4 }, new long[] { 3, 4 })]
    [TestCase("Mul", new long[] { 2, 3, 4 }, new long[] { 1, 3, 1 })]
    [TestCase("Div", new long[] { 2, 3, 4 }, new long[] { 4 })]
    [TestCase("Mul", new long[] { 2, 3 }, new long[] { 2, 3 })]
    public void BroadcastArithmetic(string op, long[] aShape, long[] bShape)
    {
        var (b, r) = Start();
        // Divisors stay away from zero.
        CheckAll(Finish(b, b.Op(op, [T(b, r, "a", 0f, aShape), T(b, r, "b", 0.5f, bShape)])), 2);
    }

    [Test]
    public void MulOfAValueWithItself()
    {
        var (b, r) = Start();
        var a = T(b, r, "a", 0f, 2, 3);
        CheckAll(Finish(b, b.Mul(a, a)), 1);
    }

    [TestCase("Relu")]
    [TestCase("LeakyRelu")]
    [TestCase("Sigmoid")]
    [TestCase("HardSigmoid")]
    [TestCase("HardSwish")]
    [TestCase("Tanh")]
    [TestCase("Erf")]
    [TestCase("Softplus")]
    [TestCase("Gelu")]
    [TestCase("Exp")]
    [TestCase("Neg")]
    [TestCase("Abs")]
    public void Activation(string op)
    {
        var (b, r) = Start();
        var x = b.Initializer("x", GradientCheck.Values(r, 24, 0.1f, 4f), 2, 3, 4); // spans HardSwish/HardSigmoid kinks at ±3 / ±2.5
        var model = op == "Gelu" ? new GraphBuilder(opset: 20) : b;
        if (op == "Gelu")
        {
            x = model.Initializer("x", GradientCheck.Values(r, 24, 0.1f, 4f), 2, 3, 4);
            CheckAll(Finish(model, model.Op("Gelu", [x])), 1);
            return;
        }
        CheckAll(Finish(b, b.Op(op, [x])), 1, h: 1e-3f);
    }

    [TestCase("Sqrt")]
    [TestCase("Log")]
    [TestCase("Reciprocal")]
    public void PositiveDomain(string op)
    {
        var (b, r) = Start();
        var x = b.Initializer("x", GradientCheck.Values(r, 12, 0.3f).Select(MathF.Abs).ToArray(), 3, 4);
        CheckAll(Finish(b, b.Op(op, [x])), 1, h: 1e-3f);
    }

    // Pow: a constant exponent (the LayerNorm decomposition's Pow(x − μ, 2), a fractional one on positive x) and a trained,
    // broadcast exponent on positive x (d/db = ln(x)·x^b).
    [TestCase(2f)]
    [TestCase(3f)]
    [TestCase(0.5f)]
    public void PowWithConstantExponent(float exponent)
    {
        var (b, r) = Start();
        var values = GradientCheck.Values(r, 12, 0.3f);
        if (exponent != MathF.Round(exponent)) values = values.Select(MathF.Abs).ToArray();
        var x = b.Initializer("x", values, 3, 4);
        CheckAll(Finish(b, b.Op("Pow", [x, b.Initializer("e", Tensor.Scalar(exponent))])), 1, h: 1e-3f);
    }

    [Test]
    public void PowWithTrainedBroadcastExponent()
    {
        var (b, r) = Start();
        var x = b.Initializer("x", GradientCheck.Values(r, 12, 0.3f).Select(MathF.Abs).ToArray(), 3, 4);
        var e = b.Initializer("e", GradientCheck.Values(r, 4, 0.5f).Select(v => 1f + MathF.Abs(v)).ToArray(), 4);
        CheckAll(Finish(b, b.Op("Pow", [x, e])), 2, h: 1e-3f);
    }

    [Test]
    public void Clip()
    {
        var (b, r) = Start();
        var x = b.Initializer("x", GradientCheck.Values(r, 24, 0.05f, 2f), 4, 6);
        var y = b.Op("Clip", [x, b.Initializer("lo", Tensor.Scalar(-0.5f)), b.Initializer("hi", Tensor.Scalar(0.75f))]);
        CheckAll(Finish(b, y), 1, h: 1e-3f);
    }

    [Test]
    public void GeluDecomposedFromErf()
    {
        var (b, r) = Start();
        var x = T(b, r, "x", 0f, 3, 5);
        var erf = b.Op("Erf", [b.Op("Div", [x, b.Initializer("s2", Tensor.Scalar(MathF.Sqrt(2)))])]);
        var y = b.Mul(b.Mul(x, b.Add(erf, b.Initializer("one", Tensor.Scalar(1f)))), b.Initializer("half", Tensor.Scalar(0.5f)));
        var trained = GradientCheck.Check(Finish(b, y));
        Assert.That(trained.Select(p => p.Name), Is.EqualTo(new[] { "x" }), "scalar constants are not trainable");
    }

    // SiLU (Swish) has no ONNX op: exporters write x·Sigmoid(x), so x reaches the Mul twice (directly and through Sigmoid).
    [Test]
    public void SiluDecomposedAsXTimesSigmoid()
    {
        var (b, r) = Start();
        var x = T(b, r, "x", 0f, 3, 5);
        var trained = GradientCheck.Check(Finish(b, b.Mul(x, b.Op("Sigmoid", [x]))));
        Assert.That(trained.Select(p => p.Name), Is.EqualTo(new[] { "x" }));
    }

    [TestCase(1L)]
    [TestCase(-1L)]
    public void Softmax(long axis)
    {
        var (b, r) = Start();
        CheckAll(Finish(b, b.Softmax(T(b, r, "x", 0f, 2, 3, 4), axis)), 1);
    }

    [Test]
    public void LogSoftmax()
    {
        var (b, r) = Start();
        CheckAll(Finish(b, b.Op("LogSoftmax", [T(b, r, "x", 0f, 3, 5)], ("axis", 1L))), 1);
    }

    [Test]
    public void BatchNormalizationFrozen()
    {
        var (b, r) = Start();
        var x = T(b, r, "x", 0f, 2, 3, 2, 2);
        var bn = b.BatchNorm(x, T(b, r, "gamma", 0f, 3), T(b, r, "beta", 0f, 3), T(b, r, "mean", 0f, 3),
            b.Initializer("var", GradientCheck.Values(r, 3, 0.5f).Select(MathF.Abs).ToArray(), 3));
        var trained = GradientCheck.Check(Finish(b, bn));
        Assert.That(trained.Select(p => p.Name), Is.EquivalentTo(new[] { "x", "gamma", "beta" }), "running statistics are not trainable");
    }

    [Test]
    public void BatchNormalizationBatchStatistics()
    {
        var (b, r) = Start();
        var x = T(b, r, "x", 0f, 3, 2, 2, 2);
        var bn = b.BatchNorm(x, T(b, r, "gamma", 0f, 2), T(b, r, "beta", 0f, 2), T(b, r, "mean", 0f, 2),
            b.Initializer("var", [1f, 1f], 2));
        CheckAll(Finish(b, bn), 3, h: 1e-3f, options: new GradientBuilderOptions { BatchNorm = BatchNormMode.BatchStatistics });
    }

    [TestCase(-1L)]
    [TestCase(1L)]
    public void LayerNormalization(long axis)
    {
        var (b, r) = Start();
        var x = T(b, r, "x", 0f, 2, 3, 4);
        long[] norm = axis == -1 ? [4] : [3, 4];
        var y = b.Op("LayerNormalization", [x, T(b, r, "scale", 0f, norm), T(b, r, "bias", 0f, norm)], ("axis", axis));
        CheckAll(Finish(b, y), 3, h: 1e-3f);
    }

    [Test]
    public void MaxPoolTiled()
    {
        var (b, r) = Start();
        var x = T(b, r, "x", 0f, 2, 2, 4, 6);
        CheckAll(Finish(b, b.Op("MaxPool", [x], ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }))), 1, h: 1e-4f);
    }

    [TestCase(13)]
    [TestCase(17)]
    public void MaxPoolOverlappingPadded(int opset)
    {
        var (b, r) = (new GraphBuilder(opset), new Random(1));
        var x = T(b, r, "x", 0f, 2, 2, 5, 5);
        CheckAll(Finish(b, b.Op("MaxPool", [x], ("kernel_shape", new long[] { 3, 3 }), ("strides", new long[] { 2, 2 }), ("pads", new long[] { 1, 1, 1, 1 }))), 1, h: 1e-4f);
    }

    [TestCase(0L)]
    [TestCase(1L)]
    public void AveragePool(long countIncludePad)
    {
        var (b, r) = Start();
        var x = T(b, r, "x", 0f, 2, 2, 5, 5);
        CheckAll(Finish(b, b.Op("AveragePool", [x], ("kernel_shape", new long[] { 3, 3 }), ("strides", new long[] { 2, 2 }),
            ("pads", new long[] { 1, 1, 1, 1 }), ("count_include_pad", countIncludePad))), 1);
    }

    /// <summary>Seeded random Max/AveragePool windows: tiled or overlapping, strided, asymmetrically padded, ceil_mode.</summary>
    [Test]
    public void PoolingOnRandomShapes([Range(1, 10)] int seed)
    {
        var r = new Random(4000 + seed);
        var op = r.Next(2) == 0 ? "MaxPool" : "AveragePool";
        long[] kernel = [r.Next(1, 4), r.Next(1, 4)], strides = [r.Next(1, 4), r.Next(1, 4)];
        var pads = new long[4];
        for (int i = 0; i < 4; i++) pads[i] = r.Next((int)kernel[i % 2]); // pads stay below the kernel (ONNX requires it)
        long[] shape = [r.Next(1, 3), r.Next(1, 3), r.Next(3, 8), r.Next(3, 8)];
        var attrs = new List<(string, object)> { ("kernel_shape", kernel), ("strides", strides), ("pads", pads), ("ceil_mode", (long)r.Next(2)) };
        if (op == "AveragePool") attrs.Add(("count_include_pad", (long)r.Next(2)));
        TestContext.Out.WriteLine($"{op} x [{string.Join(",", shape)}] kernel [{string.Join(",", kernel)}] strides [{string.Join(",", strides)}] pads [{string.Join(",", pads)}] {string.Join(" ", attrs.Skip(3).Select(a => $"{a.Item1}={a.Item2}"))}");
        var (b, rv) = Start(seed);
        var x = T(b, rv, "x", 0f, shape);
        // With ceil_mode a last window can start inside the input but end past the padding; what AveragePool divides by
        // there is not pinned down by the ONNX spec, so the rule refuses it (by name) rather than guess.
        bool pastPadding = Enumerable.Range(0, 2).Any(i =>
        {
            long span = shape[2 + i] + pads[i] + pads[i + 2] - kernel[i];
            long outSize = (long)attrs[3].Item2 == 1 ? (span + strides[i] - 1) / strides[i] + 1 : span / strides[i] + 1;
            return (outSize - 1) * strides[i] + kernel[i] > shape[2 + i] + pads[i] + pads[i + 2];
        });
        var model = Finish(b, b.Op(op, [x], attrs.ToArray()));
        if (op == "AveragePool" && pastPadding)
        {
            var e = Assert.Throws<UnsupportedModelException>(() => GradientCheck.Check(model))!;
            Assert.That(e.Message, Does.Contain("AveragePool").And.Contain("ceil_mode"));
            return;
        }
        // MaxPool's gradient is piecewise constant in x: small steps keep each window's arg-max in place.
        CheckAll(model, 1, h: op == "MaxPool" ? 1e-4f : 1e-2f);
    }

    [Test]
    public void GlobalAveragePool()
    {
        var (b, r) = Start();
        CheckAll(Finish(b, b.GlobalAveragePool(T(b, r, "x", 0f, 2, 3, 4, 4))), 1);
    }

    [Test]
    public void ShapeOps()
    {
        // Flatten → Reshape → Transpose → Unsqueeze → Squeeze → Identity → Dropout, with a weight to make it non-linear.
        var (b, r) = Start();
        var x = T(b, r, "x", 0f, 2, 3, 2, 2);
        var y = b.Flatten(x);
        y = b.Reshape(y, 2, 4, 3);
        y = b.Transpose(y, 2, 0, 1);
        y = b.Op("Unsqueeze", [y, b.Int64s("ax", 1)]);
        y = b.Op("Squeeze", [y, b.Int64s("ax2", 1)]);
        y = b.Op("Identity", [y]);
        y = b.Op("Dropout", [y]);
        y = b.Mul(y, T(b, r, "w", 0f, 2, 4));
        CheckAll(Finish(b, y), 2);
    }

    [Test]
    public void ConcatAndSplit()
    {
        var (b, r) = Start();
        var a = T(b, r, "a", 0f, 2, 2, 3);
        var c = T(b, r, "c", 0f, 2, 4, 3);
        var cat = b.Concat(1, a, c);
        var parts = b.OpNode("Split", [cat, b.Int64s("sizes", 1, 5)], 2, ("axis", 1L));
        // Only the second piece reaches the loss: the first gets a zero gradient.
        CheckAll(Finish(b, b.Mul(parts.Output(1)!, T(b, r, "w", 0f, 5, 3))), 3);
    }

    /// <summary>
    /// Seeded random chains of layout ops: Transpose (random permutation) → Slice (random axes, steps ±1/2/3, negative
    /// starts, clamped starts and ends) → Pad (constant, negative pads too) → ReduceSum/ReduceMean (random axes, keepdims or not).
    /// </summary>
    [Test]
    public void LayoutOpsOnRandomShapes([Range(1, 16)] int seed)
    {
        var r = new Random(5000 + seed);
        int rank = r.Next(2, 5);
        var dims = Enumerable.Range(0, rank).Select(_ => (long)r.Next(2, 6)).ToList();
        var (b, rv) = Start(seed);
        var y = T(b, rv, "x", 0f, dims.ToArray());
        var log = new List<string> { $"x [{string.Join(",", dims)}]" };

        var perm = Enumerable.Range(0, rank).Select(i => (long)i).OrderBy(_ => r.Next()).ToArray();
        y = b.Transpose(y, perm);
        dims = perm.Select(i => dims[(int)i]).ToList();
        log.Add($"Transpose [{string.Join(",", perm)}]");

        var axes = Enumerable.Range(0, rank).Where(_ => r.Next(2) == 0).Select(i => (long)i).DefaultIfEmpty(rank - 1).ToArray();
        var starts = new long[axes.Length];
        var ends = new long[axes.Length];
        var steps = new long[axes.Length];
        for (int j = 0; j < axes.Length; j++)
        {
            int a = (int)axes[j];
            long d = dims[a];
            steps[j] = new long[] { 1, 1, 2, 3, -1, -2 }[r.Next(6)];
            if (steps[j] > 0)
            {
                long start = r.Next((int)d), end = r.Next((int)start + 1, (int)d + 1);
                starts[j] = r.Next(2) == 0 ? start - d : start;  // negative starts count from the end
                ends[j] = end == d && r.Next(2) == 0 ? 100 : end; // ends past the size are clamped
                dims[a] = (end - start + steps[j] - 1) / steps[j];
            }
            else
            {
                long start = r.Next((int)d), end = r.Next(-1, (int)start);  // end −1: down to index 0 inclusive
                starts[j] = start == d - 1 && r.Next(2) == 0 ? 100 : start; // starts past the size are clamped
                ends[j] = end == -1 ? -100 : r.Next(2) == 0 ? end - d : end;
                dims[a] = (start - end + -steps[j] - 1) / -steps[j];
            }
        }
        y = b.Op("Slice", [y, b.Int64s("starts", starts), b.Int64s("ends", ends), b.Int64s("axes", axes), b.Int64s("steps", steps)]);
        log.Add($"Slice axes [{string.Join(",", axes)}] starts [{string.Join(",", starts)}] ends [{string.Join(",", ends)}] steps [{string.Join(",", steps)}]");

        var pads = new long[2 * rank];
        for (int a = 0; a < rank; a++)
        {
            pads[a] = r.Next(0, 3);
            pads[a + rank] = dims[a] + pads[a] >= 2 && r.Next(3) == 0 ? -1 : r.Next(0, 3);
            dims[a] += pads[a] + pads[a + rank];
        }
        y = b.Op("Pad", [y, b.Int64s("pads", pads)]);
        log.Add($"Pad [{string.Join(",", pads)}]");

        var reduceAxes = Enumerable.Range(0, rank).Where(_ => r.Next(3) == 0).Select(i => (long)i).DefaultIfEmpty(0).ToArray();
        long keep = r.Next(2);
        y = r.Next(2) == 0
            ? b.Op("ReduceSum", [y, b.Int64s("reduce_axes", reduceAxes)], ("keepdims", keep))
            : b.Op("ReduceMean", [y], ("axes", reduceAxes), ("keepdims", keep));
        log.Add($"{y.Producer!.OpType} axes [{string.Join(",", reduceAxes)}] keepdims {keep}");
        TestContext.Out.WriteLine(string.Join(" → ", log));
        CheckAll(Finish(b, y), 1);
    }

    [Test]
    public void SliceAndPad()
    {
        var (b, r) = Start();
        var x = T(b, r, "x", 0f, 2, 5, 6);
        var s = b.Op("Slice", [x, b.Int64s("st", 1, -4), b.Int64s("en", 4, 100), b.Int64s("axes", 1, 2)]);
        var p = b.Op("Pad", [s, b.Int64s("pads", 0, 1, 2, 0, 0, -1)]);
        CheckAll(Finish(b, b.Mul(p, T(b, r, "w", 0f, 2, 4, 5))), 2);
    }

    [TestCase("reflect", 17)]
    [TestCase("edge", 17)]
    [TestCase("wrap", 19)]
    public void PadCopyModes(string mode, int opset)
    {
        var b = new GraphBuilder(opset);
        var r = new Random(7);
        var x = T(b, r, "x", 0f, 2, 3, 4, 5);
        // Asymmetric pads on both spatial axes (corners copy twice) and one pad-free axis.
        var p = b.Op("Pad", [x, b.Int64s("pads", 0, 0, 2, 1, 0, 0, 1, 3)], ("mode", mode));
        CheckAll(Finish(b, b.Mul(p, T(b, r, "w", 0f, 2, 3, 7, 9))), 2);
    }

    // Opset 13–15 models are re-declared at 16 in the training copy, so the scatter-add form serves them too.
    [TestCase(13)]
    [TestCase(17)]
    public void GatherEmbeddingWithRepeatedIndices(int opset)
    {
        var (b, r) = (new GraphBuilder(opset), new Random(1));
        var table = T(b, r, "table", 0f, 5, 3);
        var idx = b.Initializer("idx", Tensor.FromArray<long>([1, 3, 1, 0, 4, 1], 2, 3));
        CheckAll(Finish(b, b.Op("Gather", [table, idx], ("axis", 0L))), 1);
    }

    [Test]
    public void GatherClsToken()
    {
        var (b, r) = Start();
        var seq = T(b, r, "seq", 0f, 2, 4, 3);
        CheckAll(Finish(b, b.Op("Gather", [seq, b.Initializer("i0", Tensor.Scalar(0L))], ("axis", 1L))), 1);
    }

    [Test]
    public void ExpandFromComputedShape()
    {
        // The ViT's CLS broadcast: Expand to a shape computed with Shape/Slice/Concat at run time.
        var (b, r) = Start();
        var x = T(b, r, "x", 0f, 3, 2);
        var cls = T(b, r, "cls", 0f, 1, 1, 2);
        var n = b.Op("Slice", [b.Op("Shape", [x]), b.Int64s("z", 0), b.Int64s("o", 1)]);
        var expanded = b.Op("Expand", [cls, b.Concat(0, n, b.Int64s("tail", 1, 2))]);
        var y = b.Add(expanded, b.Op("Unsqueeze", [x, b.Int64s("a1", 1)]));
        CheckAll(Finish(b, y), 2);
    }

    [Test]
    public void ResizeNearest()
    {
        var (b, r) = Start();
        var x = T(b, r, "x", 0f, 1, 2, 3, 3);
        var y = b.Op("Resize", [x, b.Initializer("roi", Array.Empty<float>(), 0), b.Initializer("scales", [1f, 1f, 2f, 2f], 4)], ("mode", "nearest"));
        var model = Finish(b, b.Mul(y, T(b, r, "w", 0f, 1, 2, 6, 6)));
        var trained = GradientCheck.Check(model);
        Assert.That(trained.Select(p => p.Name), Is.EquivalentTo(new[] { "x", "w" }), "Resize scales are not trainable");
        // A nearest ×2 copy is recognised from its measured matrix and differentiated as a block sum, not a MatMul.
        var graph = GradientBuilder.Build(model, new GradientBuilderOptions { BatchSize = 1, Loss = new LossOptions { Kind = LossKind.MeanSquaredError } });
        Assert.That(graph.Model.Graph.Nodes.Count(n => n.OpType == "MatMul"), Is.Zero);
    }

    public static IEnumerable<TestCaseData> ResizeCases()
    {
        // x shape, scales (or null), sizes (or null), attributes
        yield return new TestCaseData(new long[] { 1, 2, 3, 3 }, new[] { 1f, 1f, 2f, 2f }, null, new object[] { "mode", "nearest", "coordinate_transformation_mode", "align_corners" }).SetName("Resize nearest align_corners x2");
        yield return new TestCaseData(new long[] { 1, 2, 3, 4 }, new[] { 1f, 1f, 2f, 2f }, null, new object[] { "mode", "nearest", "coordinate_transformation_mode", "asymmetric", "nearest_mode", "round_prefer_ceil" }).SetName("Resize nearest asymmetric round_prefer_ceil");
        yield return new TestCaseData(new long[] { 2, 1, 3, 3 }, null, new long[] { 2, 1, 7, 5 }, new object[] { "mode", "linear", "coordinate_transformation_mode", "half_pixel" }).SetName("Resize linear half_pixel to sizes 7x5");
        yield return new TestCaseData(new long[] { 1, 2, 3, 4 }, new[] { 1f, 1f, 2f, 2f }, null, new object[] { "mode", "linear", "coordinate_transformation_mode", "align_corners" }).SetName("Resize linear align_corners x2");
        yield return new TestCaseData(new long[] { 1, 2, 4, 4 }, new[] { 1f, 1f, 1.5f, 2f }, null, new object[] { "mode", "cubic", "coordinate_transformation_mode", "half_pixel" }).SetName("Resize cubic x1.5 x2");
        yield return new TestCaseData(new long[] { 1, 2, 6, 6 }, new[] { 1f, 1f, 0.5f, 0.5f }, null, new object[] { "mode", "linear", "coordinate_transformation_mode", "pytorch_half_pixel" }).SetName("Resize linear downscale");
        yield return new TestCaseData(new long[] { 2, 3, 5 }, new[] { 1f, 1f, 2f }, null, new object[] { "mode", "linear" }).SetName("Resize 1-D linear");
        yield return new TestCaseData(new long[] { 1, 2, 3, 3, 2 }, new[] { 1f, 1f, 2f, 1f, 1f }, null, new object[] { "mode", "linear" }).SetName("Resize 3-D along depth");
    }

    [TestCaseSource(nameof(ResizeCases))]
    public void Resize(long[] xShape, float[]? scales, long[]? sizes, object[] attributes)
    {
        var (b, r) = Start();
        var x = T(b, r, "x", 0f, xShape);
        var attrs = attributes.Chunk(2).Select(p => ((string)p[0], p[1])).ToArray();
        Value?[] inputs = sizes is null
            ? [x, b.Initializer("roi", Array.Empty<float>(), 0), b.Initializer("scales", scales!, scales!.Length)]
            : [x, b.Initializer("roi", Array.Empty<float>(), 0), b.Initializer("no_scales", Array.Empty<float>(), 0), b.Int64s("sizes", sizes)];
        var y = b.Op("Resize", inputs, attrs);
        // A weight after the Resize makes the loss depend on every output position differently.
        long[] yShape = sizes ?? xShape.Select((d, i) => (long)Math.Floor(d * scales![i])).ToArray();
        CheckAll(Finish(b, b.Mul(y, T(b, r, "w", 0f, yShape))), 2);
    }

    [TestCase("coordinate_transformation_mode", "tf_crop_and_resize", "tf_crop_and_resize")]
    [TestCase("keep_aspect_ratio_policy", "not_larger", "keep_aspect_ratio_policy")]
    public void ResizeFormsThatAreNotLinearOrNotSupportedAreRefusedByName(string attribute, string value, string reason)
    {
        var b = new GraphBuilder(opset: 18);
        var r = new Random(1);
        var x = T(b, r, "x", 0f, 1, 2, 3, 3);
        var y = b.Op("Resize", [x, b.Initializer("roi", [0f, 0f, 0f, 0f, 1f, 1f, 1f, 1f], 8), b.Initializer("no_scales", Array.Empty<float>(), 0), b.Int64s("sizes", 1, 2, 6, 6)],
            ("mode", "linear"), (attribute, value));
        y.Producer!.Name = "my_resize";
        var e = Assert.Throws<UnsupportedModelException>(() => GradientBuilder.Build(Finish(b, y), new GradientBuilderOptions { BatchSize = 1, Loss = new LossOptions { Kind = LossKind.MeanSquaredError } }))!;
        Assert.That(e.Message, Does.Contain("my_resize").And.Contain(reason));
    }

    [TestCase("ReduceMean")]
    [TestCase("ReduceSum")]
    public void Reduce(string op)
    {
        var (b, r) = Start();
        var x = T(b, r, "x", 0f, 2, 3, 4);
        var y = op == "ReduceMean" ? b.Op(op, [x], ("axes", new long[] { 1, -1 }), ("keepdims", 0L)) : b.Op(op, [x, b.Int64s("axes", 1)], ("keepdims", 1L));
        CheckAll(Finish(b, y), 1);
    }

    [Test]
    public void UnsupportedOpIsNamed()
    {
        var (b, r) = Start();
        var x = T(b, r, "x", 0f, 2, 3);
        var y = b.Op("Cos", [x]);
        y.Producer!.Name = "my_cos";
        var ex = Assert.Throws<UnsupportedModelException>(() => GradientBuilder.Build(Finish(b, y), new GradientBuilderOptions { Loss = new LossOptions { Kind = LossKind.MeanSquaredError } }));
        Assert.That(ex!.Message, Does.Contain("my_cos").And.Contain("Cos"));
    }

    [Test]
    public void FrozenBranchGetsNoBackwardOps()
    {
        // y = Conv(x) + Relu(frozen) where the right branch has no trainable tensor: no backward op reads it.
        var (b, r) = Start();
        var x = T(b, r, "x", 0f, 1, 2, 4, 4);
        var w = T(b, r, "w", 0f, 2, 2, 3, 3);
        var frozen = T(b, r, "frozen", 0f, 1, 2, 4, 4);
        var right = b.Relu(b.Op("Exp", [frozen]));
        var model = Finish(b, b.Add(b.Conv(x, w, pads: [1, 1, 1, 1]), right));
        var graph = GradientBuilder.Build(model, new GradientBuilderOptions
        {
            Loss = new LossOptions { Kind = LossKind.MeanSquaredError }, IsTrainable = c => c.Name != "frozen",
        });
        Assert.That(graph.Parameters.Select(p => p.Name), Is.EquivalentTo(new[] { "x", "w" }));
        // Forward: Conv, Exp, Relu, Add; nothing else may touch Exp's or Relu's outputs but the forward Add.
        var exp = graph.Model.Graph.Nodes.Single(n => n.OpType == "Exp" && n.Inputs[0]!.Name == "frozen");
        var relu = exp.Output(0)!.Consumers.Single();
        Assert.That(relu.OpType, Is.EqualTo("Relu"));
        Assert.That(relu.Output(0)!.Consumers.Select(n => n.OpType), Is.EqualTo(new[] { "Add" }));
        Assert.That(graph.Model.Graph.Nodes.Count(n => n.OpType == "Greater"), Is.Zero, "no Relu backward mask");
    }
}
