using System.Diagnostics;
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
            switch (rng.Next(10))
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
                    h = f.B.Add(f.B.Mul(h, f.W("scale", c, 1, 1)), f.W("shift", 1, c, 1, 1));
                    break;
                case 8:
                {
                    var up = f.B.Op("Resize", [h, null, f.B.Initializer("scales", Tensor.FromArray<float>([1f, 1f, 2f, 2f], 4))], ("mode", "nearest"));
                    h = f.B.Op("AveragePool", [up], ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }));
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
        switch (rng.Next(4))
        {
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
        for (int i = 0; i < Graphs; i++)
        {
            bool transformer = i % 3 == 2;
            var model = transformer ? RandomTransformer(1000 + i) : RandomCnn(1000 + i);
            var rng = new Random(i);
            try
            {
                var analysis = DependencyAnalyzer.Analyze(model);
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
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(20)));
        Assert.That(withGroups, Is.GreaterThanOrEqualTo(200), "graphs with prunable groups");
        Assert.That(heads, Is.GreaterThan(50), "attention-head groups exercised");
        Assert.That(changed, Is.GreaterThan(withGroups * 9 / 10), "pruning must change most functions, else the oracle is vacuous");
        CheckAll(dir);
    }

    // One python process checks every pruned model (full_check), failing with the names of rejected files.
    private static void CheckAll(string dir)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("import sys, glob, onnx\nbad = []\nfiles = sorted(glob.glob(sys.argv[1] + '/*.onnx'))\nfor f in files:\n    try: onnx.checker.check_model(onnx.load(f), full_check=True)\n    except Exception as e: bad.append(f + ': ' + str(e).splitlines()[0])\nprint(len(files))\nprint('\\n'.join(bad))\nsys.exit(1 if bad else 0)");
        psi.ArgumentList.Add(dir);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start /usr/bin/python3");
        var stdout = p.StandardOutput.ReadToEnd();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (stderr.Contains("No module named 'onnx'")) Assert.Fail("python3-onnx is missing: install it (tools/test.sh does).");
        Assert.That(p.ExitCode, Is.EqualTo(0), $"onnx.checker rejected pruned models:\n{stdout}\n{stderr}");
        Assert.That(int.Parse(stdout.Split('\n')[0]), Is.GreaterThanOrEqualTo(200));
    }
}
