using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace PruneBenchmark;

/// <summary>A seeded VGG-style CNN with ≈ 30.7 M float weights (≈ 123 MB): conv 256→1024, three conv 1024→1024 (3×3, BN,
/// Relu), GAP, Gemm. The same seed gives the same bytes.</summary>
internal static class GeneratedModel
{
    public static OnnxModel Build(int seed, long[]? widths = null, long spatial = 16, long classes = 1000)
    {
        var rng = new Random(seed);
        var b = new GraphBuilder();
        widths ??= [256, 1024, 1024, 1024, 1024];
        var x = b.Input("x", ElementType.Float, 1, widths[0], spatial, spatial);
        var h = x;
        for (int i = 1; i < widths.Length; i++)
        {
            long cin = widths[i - 1], cout = widths[i];
            var w = b.Initializer($"conv{i}.w", Random(rng, cout * cin * 9, MathF.Sqrt(2f / (cin * 9))), cout, cin, 3, 3);
            h = b.Conv(h, w, pads: [1, 1, 1, 1]);
            h.Producer!.Name = $"conv{i}";
            h = b.BatchNorm(h, b.Initializer($"bn{i}.scale", Random(rng, cout, 1f, 1f), cout), b.Initializer($"bn{i}.bias", Random(rng, cout, 0.1f), cout),
                b.Initializer($"bn{i}.mean", Random(rng, cout, 0.1f), cout), b.Initializer($"bn{i}.var", Random(rng, cout, 0.1f, 1f), cout));
            h = b.Relu(h);
        }
        var pooled = b.Flatten(b.GlobalAveragePool(h));
        long last = widths[^1];
        var fc = b.Gemm(pooled, b.Initializer("fc.w", Random(rng, classes * last, 0.03f), classes, last), b.Initializer("fc.b", new float[classes], classes), transB: true);
        b.Output(fc, ElementType.Float, 1, classes);
        return b.Build();
    }

    // Uniform in [offset − scale, offset + scale).
    private static float[] Random(Random rng, long n, float scale, float offset = 0)
    {
        var v = new float[n];
        for (long i = 0; i < n; i++) v[i] = offset + scale * (2 * rng.NextSingle() - 1);
        return v;
    }
}
