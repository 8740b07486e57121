using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Pruning;

/// <summary>Property test: seeded random CNN and transformer graphs, random keep-masks over every prunable group;
/// each pruned model passes onnx.checker and matches its masked reference on ONNX Runtime.</summary>
public class RandomGraphTests
{
    private const int Graphs = 210;

    // Blocks that generated graphs legitimately have: their inputs/outputs and LayerNorm/Softmax over the unit axis.
    private static readonly string[] Expected = ["is a graph input", "is a graph output", "LayerNormalization", "Softmax"];

    private static Value Act(ModelFactory f, Random rng, Value x, long c) => rng.Next(5) switch
    {
        0 => f.B.Relu(x),
        1 => f.SiLU(x),
        2 => f.HardSwish(x),
        3 => f.B.Op("LeakyRelu", [x], ("alpha", 0.1f)),
        _ => f.B.Op("PRelu", [x, f.W("slope", c, 1, 1)]),
    };

    /// <summary>A random CNN: stem, 2–4 blocks (plain, residual, concat, depthwise, squeeze-excite, pool, split,
    /// channel-wise affine, resize, pad), and a head.</summary>
    public static OnnxModel RandomCnn(int seed)
    {
        var rng = new Random(seed);
        var f = new ModelFactory(rng);
        bool dynamic = rng.Next(2) == 0;
        var x = dynamic ? f.B.Input("x", ElementType.Float, "N", 3, 8, 8) : f.B.Input("x", ElementType.Float, 1, 3, 8, 8);
        long c = rng.Next(4, 9), hw = 8;
        var h = Act(f, rng, f.Conv(x, 3, c), c);
        int blocks = rng.Next(2, 5);
        for (int b = 0; b < blocks; b++)
        {
            switch (rng.Next(19))
            {
                case 0:
                {
                    long c2 = rng.Next(3, 9);
                    h = Act(f, rng, f.BN(f.Conv(h, c, c2), c2), c2);
                    c = c2;
                    break;
                }
                case 1:
                {
                    long m = rng.Next(2, 7);
                    var inner = Act(f, rng, f.BN(f.Conv(h, c, m), m), m);
                    h = Act(f, rng, f.B.Add(h, f.BN(f.Conv(inner, m, c), c)), c);
                    break;
                }
                case 2:
                {
                    long a = rng.Next(2, 6), d = rng.Next(2, 6);
                    h = f.B.Concat(1, Act(f, rng, f.Conv(h, c, a, 1), a), Act(f, rng, f.Conv(h, c, d), d));
                    c = a + d;
                    break;
                }
                case 3:
                {
                    long mult = rng.Next(1, 3);
                    var dw = Act(f, rng, f.BN(f.Conv(h, c, c * mult, 3, group: c), c * mult), c * mult);
                    long c2 = rng.Next(3, 9);
                    h = f.Conv(dw, c * mult, c2, 1);
                    c = c2;
                    break;
                }
                case 4:
                {
                    long m = Math.Max(1, c / 2);
                    var s = f.Conv(f.B.Relu(f.Conv(f.B.GlobalAveragePool(h), c, m, 1)), m, c, 1);
                    var gate = rng.Next(2) == 0 ? f.B.Op("HardSigmoid", [s], ("alpha", 0.2f), ("beta", 0.5f)) : f.B.Sigmoid(s);
                    h = f.B.Mul(h, gate);
                    break;
                }
                case 5:
                    if (hw < 4) goto case 0;
                    h = f.B.Op("MaxPool", [h], ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }));
                    hw /= 2;
                    break;
                case 6:
                {
                    if (c < 2) goto case 0;
                    long s1 = rng.Next(1, (int)c);
                    var split = f.B.OpNode("Split", [h, f.B.Int64s("split", s1, c - s1)], 2, ("axis", 1L));
                    var p = Act(f, rng, f.Conv(split.Output(0)!, s1, s1, 1), s1);
                    h = f.B.Concat(1, p, split.Output(1)!);
                    break;
                }
                case 7:
                {
                    var shift = f.W("shift", 1, c, 1, 1);
                    if (rng.Next(2) == 0) shift = f.B.Op("Expand", [shift, f.B.Int64s("to", 1, c, hw, hw)]);
                    h = f.B.Add(f.B.Mul(h, f.W("scale", c, 1, 1)), shift);
                    break;
                }
                case 8:
                {
                    var up = f.B.Op("Resize", [h, null, f.B.Initializer("scales", Tensor.FromArray<float>([1f, 1f, 2f, 2f], 4))], ("mode", "nearest"));
                    h = f.B.Op("AveragePool", [up], ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }));
                    break;
                }
                case 10:
                {
                    // Option-A shortcut: strided spatial Slice, then zero channel padding, added to a widening conv.
                    long extra = rng.Next(1, 4), before = rng.Next(0, (int)extra + 1);
                    var sub = f.B.Op("Slice", [h, f.B.Int64s("st", 0, 0), f.B.Int64s("en", long.MaxValue, long.MaxValue), f.B.Int64s("ax", 2, 3), f.B.Int64s("sp", 1, 1)]);
                    var padded = f.B.Op("Pad", [sub, f.B.Int64s("pads", 0, before, 0, 0, 0, extra - before, 0, 0)]);
                    h = Act(f, rng, f.B.Add(padded, f.BN(f.Conv(h, c, c + extra), c + extra)), c + extra);
                    c += extra;
                    break;
                }
                case 11:
                {
                    if (c < 3) goto case 0;
                    long s0 = rng.Next(0, (int)c - 1), s1 = rng.Next((int)s0 + 1, (int)c + 1);
                    var part = f.B.Op("Slice", [h, f.B.Int64s("st", s0), f.B.Int64s("en", s1 == c && rng.Next(2) == 0 ? long.MaxValue : s1), f.B.Int64s("ax", 1)]);
                    long d = rng.Next(2, 5);
                    h = f.B.Concat(1, Act(f, rng, part, s1 - s0), Act(f, rng, f.Conv(h, c, d), d));
                    c = s1 - s0 + d;
                    break;
                }
                case 12:
                {
                    long c2 = rng.Next(2, 7);
                    var up = f.B.Op("ConvTranspose", [h, f.W("tw", c, c2, 2, 2), f.W("tb", c2)], ("strides", new long[] { 2, 2 }));
                    h = f.B.Op("Tanh", [f.B.Op("AveragePool", [up], ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }))]);
                    c = c2;
                    break;
                }
                case 13:
                    h = f.B.Op("Clip", [f.B.Op("InstanceNormalization", [h, f.W("ig", c), f.W("ib", c)]), f.Scalar(0), f.Scalar(6)]);
                    break;
                case 14:
                {
                    // Channel-wise divisors, one of them reshaped at run time from a 1-D constant.
                    var q = f.B.Op("Div", [h, f.B.Op("Unsqueeze", [f.Positive("divisor", c), f.B.Int64s("ax", 1, 2)])]);
                    h = f.B.Op("Div", [q, f.B.Op("Reshape", [f.Positive("d", c), f.B.Int64s("s", c, 1, 1)])]);
                    break;
                }
                case 15:
                {
                    // Two convs sharing one weight: their output channels must go together.
                    long c2 = rng.Next(2, 6);
                    var w = f.W("shared", c2, c, 1, 1);
                    h = f.B.Concat(1, f.B.Relu(f.B.Conv(h, w)), f.B.Sigmoid(f.B.Conv(f.B.Relu(h), w)));
                    c = 2 * c2;
                    break;
                }
                case 16:
                {
                    // Channel-last pointwise layer: Transpose → MatMul + bias → Transpose back.
                    long c2 = rng.Next(2, 7);
                    var last = f.B.Transpose(h, 0, 2, 3, 1);
                    h = f.B.Relu(f.B.Transpose(f.Linear(last, c, c2), 0, 3, 1, 2));
                    c = c2;
                    break;
                }
                case 17:
                {
                    // Grouped conv (ResNeXt/ShuffleNet style): 2 groups.
                    if (c % 2 != 0) goto case 0;
                    long c2 = 2 * rng.Next(1, 4);
                    h = Act(f, rng, f.BN(f.Conv(h, c, c2, 3, group: 2), c2), c2);
                    c = c2;
                    break;
                }
                case 18:
                {
                    if (c % 2 != 0) goto case 0;
                    long c2 = 2 * rng.Next(1, 4);
                    var up = f.B.Op("ConvTranspose", [h, f.W("tw", c, c2 / 2, 2, 2)], ("strides", new long[] { 2, 2 }), ("group", 2L));
                    h = f.B.Relu(f.B.Op("MaxPool", [up], ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 })));
                    c = c2;
                    break;
                }
                default:
                {
                    var padded = f.B.Op("Pad", [h, f.B.Int64s("pads", 0, 0, 1, 1, 0, 0, 1, 1)]);
                    long c2 = rng.Next(3, 9);
                    h = f.B.Relu(f.B.Conv(padded, f.W("w", c2, c, 3, 3), f.W("b", c2)));
                    c = c2;
                    break;
                }
            }
        }
        Value y;
        object batch = dynamic ? "N" : 1;
        switch (rng.Next(6))
        {
            case 5:
                y = f.B.MatMul(f.B.Op("Squeeze", [f.B.GlobalAveragePool(h), f.B.Int64s("axes", 2, 3)]), f.W("fc", c, 5));
                f.B.Output(y, ElementType.Float, batch, 5);
                break;
            case 4:
            {
                long hidden = rng.Next(3, 9);
                bool tb = rng.Next(2) == 0;
                var fc1 = f.B.Gemm(f.B.Flatten(f.B.GlobalAveragePool(h)), tb ? f.W("fc1", hidden, c) : f.W("fc1", c, hidden), f.W("fc1b", hidden), transB: tb);
                y = f.B.Gemm(f.B.Relu(fc1), f.W("fc2", hidden, 5), f.W("fc2b", 1, 5));
                f.B.Output(y, ElementType.Float, batch, 5);
                break;
            }
            case 0:
                y = f.B.Gemm(f.B.Flatten(f.B.GlobalAveragePool(h)), f.W("fc", 5, c), f.W("fcb", 5), transB: true);
                f.B.Output(y, ElementType.Float, batch, 5);
                break;
            case 1:
                y = f.B.Gemm(f.B.Flatten(h), f.W("fc", c * hw * hw, 5), f.W("fcb", 5));
                f.B.Output(y, ElementType.Float, batch, 5);
                break;
            case 2:
                y = f.B.MatMul(f.B.Op("Reshape", [f.B.GlobalAveragePool(h), f.B.Int64s("shape", 0, -1)]), f.W("fc", c, 5));
                f.B.Output(y, ElementType.Float, batch, 5);
                break;
            default:
                y = f.Conv(h, c, 2, 1);
                f.B.Output(y, ElementType.Float, batch, 2, hw, hw);
                break;
        }
        return f.B.Build();
    }

    /// <summary>A random transformer encoder (1–2 blocks, 1–3 heads, constant or Shape-chain reshapes) with a head.</summary>
    public static OnnxModel RandomTransformer(int seed)
    {
        var rng = new Random(seed);
        var f = new ModelFactory(rng);
        long c = rng.Next(4, 9), tokens = rng.Next(3, 6);
        var x = f.B.Input("tokens", ElementType.Float, "N", tokens, c);
        var h = x;
        int blocks = rng.Next(1, 3);
        for (int b = 0; b < blocks; b++)
            h = f.EncoderBlock(h, c, rng.Next(1, 4), rng.Next(2, 5), rng.Next(4, 13), rng.Next(2) == 0);
        var y = f.Linear(f.LayerNorm(h, c), c, 3);
        f.B.Output(y, ElementType.Float, "N", tokens, 3);
        return f.B.Build();
    }

    [Test]
    public void RandomGraphsPruneToTheirMaskedReference()
    {
        var dir = TestPaths.TempDir();
        int withGroups = 0, heads = 0, changed = 0;
        double reduction = 0;
        var failures = new List<string>();
        var unexpected = new List<string>();
        for (int i = 0; i < Graphs; i++)
        {
            bool transformer = i % 3 == 2;
            var model = transformer ? RandomTransformer(1000 + i) : RandomCnn(1000 + i);
            var rng = new Random(i);
            try
            {
                var analysis = DependencyAnalyzer.Analyze(model);
                foreach (var r in analysis.Blocked.SelectMany(g => g.BlockedReasons))
                    if (!Expected.Any(r.Contains)) unexpected.Add($"graph {i}: {r}");
                var masks = Oracle.RandomMasks(analysis, rng, 0.3 + 0.5 * rng.NextDouble());
                if (masks.Count == 0) continue;
                withGroups++;
                heads += analysis.Prunable.Count(g => g.Kind == GroupKind.AttentionHeads);
                var inputs = Oracle.RandomInputs(model, rng, new Dictionary<string, long> { ["N"] = 2 });
                var reference = MaskedReference.Build(model, masks).ToBytes();
                var result = PruningSurgery.Apply(model, masks);
                reduction += result.ParameterReduction;
                var pruned = model.ToBytes();
                File.WriteAllBytes(Path.Combine(dir, $"g{i:D3}.onnx"), pruned);
                var expected = Oracle.Run(reference, inputs);
                var actual = Oracle.Run(pruned, inputs);
                // Non-vacuous: removing units changes the function (compare with the unpruned original).
                var original = Oracle.Run((transformer ? RandomTransformer(1000 + i) : RandomCnn(1000 + i)).ToBytes(), inputs);
                if (original.Any(o => o.Value.ToFloatArray().Zip(actual[o.Key].ToFloatArray()).Any(p => Math.Abs(p.First - p.Second) > 1e-4))) changed++;
                foreach (var (name, e) in expected)
                {
                    var ef = e.ToFloatArray();
                    var af = actual[name].ToFloatArray();
                    double scale = ef.Max(Math.Abs), diff = ef.Zip(af).Max(p => Math.Abs(p.First - p.Second));
                    if (!(diff <= Oracle.Tolerance * Math.Max(scale, 1e-30))) failures.Add($"graph {i}: output {name} relative diff {diff / scale:E2}");
                }
            }
            catch (Exception e) when (e is not AssertionException)
            {
                failures.Add($"graph {i} ({(transformer ? "transformer" : "cnn")}): {e.GetType().Name}: {e.Message}");
            }
        }
        TestContext.Out.WriteLine($"{withGroups} graphs pruned, {heads} head groups, mean parameter reduction {reduction / Math.Max(1, withGroups):P1}, {changed} changed their function");
        Assert.That(unexpected, Is.Empty, "every generated structure is supported; the only blocks are the graph's ends and normalizations:\n" + string.Join("\n", unexpected.Take(20)));
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(20)));
        Assert.That(withGroups, Is.GreaterThanOrEqualTo(200), "graphs with prunable groups");
        Assert.That(heads, Is.GreaterThan(50), "attention-head groups exercised");
        Assert.That(changed, Is.GreaterThan(withGroups * 9 / 10), "pruning must change most functions, else the oracle is vacuous");
        CheckAll(dir);
    }

    // One python process checks every pruned model (full_check), failing with the names of rejected files.
    private static void CheckAll(string dir)
    {
        var result = Processes.RunPythonCode("import sys, glob, onnx\nbad = []\nfiles = sorted(glob.glob(sys.argv[1] + '/*.onnx'))\nfor f in files:\n    try: onnx.checker.check_model(onnx.load(f), full_check=True)\n    except Exception as e: bad.append(f + ': ' + str(e).splitlines()[0])\nprint(len(files))\nprint('\\n'.join(bad))\nsys.exit(1 if bad else 0)", dir);
        Assert.That(result.ExitCode, Is.EqualTo(0), $"onnx.checker rejected pruned models:\n{result.StdOut}\n{result.StdErr}");
        Assert.That(int.Parse(result.StdOut.Split('\n')[0]), Is.GreaterThanOrEqualTo(200));
    }
}
