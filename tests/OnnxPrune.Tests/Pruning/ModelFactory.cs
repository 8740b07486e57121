using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Pruning;

/// <summary>Builds test graphs with <see cref="GraphBuilder"/>: CNN blocks and transformer blocks with random weights.</summary>
public sealed class ModelFactory
{
    private readonly Random _rng;

    /// <summary>Starts a model.</summary>
    public ModelFactory(Random rng, int opset = 17)
    {
        _rng = rng;
        B = new GraphBuilder(opset);
    }

    /// <summary>The builder.</summary>
    public GraphBuilder B { get; }

    /// <summary>A random float initializer.</summary>
    public Value W(string name, params long[] shape)
    {
        long n = Tensor.CountElements(shape);
        double scale = 1 / Math.Sqrt(Math.Max(1, n / Math.Max(1, shape[0])));
        var data = new float[n];
        for (int i = 0; i < n; i++) data[i] = (float)((_rng.NextDouble() * 2 - 1) * scale * 1.5);
        return B.Initializer(name, data, shape);
    }

    /// <summary>A random positive float initializer (variances).</summary>
    public Value Positive(string name, long n)
    {
        var data = new float[n];
        for (int i = 0; i < n; i++) data[i] = (float)(0.5 + _rng.NextDouble());
        return B.Initializer(name, data, n);
    }

    /// <summary>A float scalar constant.</summary>
    public Value Scalar(float v) => B.Initializer("s", Tensor.Scalar(v));

    /// <summary>Conv (k×k, same padding) with bias.</summary>
    public Value Conv(Value x, long cin, long cout, long k = 3, long group = 1, long stride = 1) =>
        B.Conv(x, W("w", cout, cin / group, k, k), W("b", cout), strides: [stride, stride], pads: [k / 2, k / 2, k / 2, k / 2], group: group);

    /// <summary>BatchNormalization with random parameters.</summary>
    public Value BN(Value x, long c) => B.BatchNorm(x, W("g", c), W("beta", c), W("mean", c), Positive("var", c));

    /// <summary>SiLU as Sigmoid·Mul.</summary>
    public Value SiLU(Value x) => B.Mul(x, B.Sigmoid(x));

    /// <summary>Hard-swish as x·Clip(x+3, 0, 6)/6.</summary>
    public Value HardSwish(Value x) =>
        B.Mul(x, B.Op("Div", [B.Op("Clip", [B.Add(x, Scalar(3)), Scalar(0), Scalar(6)]), Scalar(6)]));

    /// <summary>Erf-based GELU: x·0.5·(1 + erf(x/√2)).</summary>
    public Value Gelu(Value x) =>
        B.Mul(B.Mul(x, B.Add(B.Op("Erf", [B.Op("Div", [x, Scalar(MathF.Sqrt(2))])]), Scalar(1))), Scalar(0.5f));

    /// <summary>LayerNormalization over the last axis.</summary>
    public Value LayerNorm(Value x, long c) => B.Op("LayerNormalization", [x, Positive("ln_g", c), W("ln_b", c)], ("axis", -1L));

    /// <summary>x·W + b for x [.., in].</summary>
    public Value Linear(Value x, long cin, long cout) => B.Add(B.MatMul(x, W("lw", cin, cout)), W("lb", cout));

    /// <summary>Multi-head self-attention on x [N, T, C] with decomposed ops. <paramref name="shapeChain"/> builds the
    /// Reshape targets PyTorch-style from Shape→Gather→Unsqueeze→Concat instead of constants.</summary>
    public Value Attention(Value x, long c, long heads, long headDim, bool shapeChain)
    {
        long inner = heads * headDim;
        Value Target(Value like, long[] tail)
        {
            if (!shapeChain) return B.Int64s("shape", [0, 0, .. tail]);
            var shape = B.Op("Shape", [like]);
            var parts = new List<Value>();
            for (long a = 0; a < 2; a++)
                parts.Add(B.Op("Unsqueeze", [B.Op("Gather", [shape, B.Initializer("i", Tensor.Scalar(a))], ("axis", 0L)), B.Int64s("ax", 0)]));
            parts.Add(B.Int64s("tail", tail));
            return B.Concat(0, parts.ToArray());
        }
        Value SplitHeads(Value t, long[] perm) => B.Transpose(B.Op("Reshape", [t, Target(t, [heads, headDim])]), perm);
        var q = SplitHeads(Linear(x, c, inner), [0, 2, 1, 3]);
        var k = SplitHeads(Linear(x, c, inner), [0, 2, 3, 1]);
        var v = SplitHeads(Linear(x, c, inner), [0, 2, 1, 3]);
        var scores = B.Mul(B.MatMul(q, k), Scalar(1 / MathF.Sqrt(headDim)));
        var attn = B.MatMul(B.Softmax(scores, -1), v);
        var merged = B.Transpose(attn, 0, 2, 1, 3);
        var flat = B.Op("Reshape", [merged, Target(merged, [inner])]);
        return Linear(flat, inner, c);
    }

    /// <summary>A pre-norm transformer encoder block.</summary>
    public Value EncoderBlock(Value x, long c, long heads, long headDim, long hidden, bool shapeChain)
    {
        var h = B.Add(x, Attention(LayerNorm(x, c), c, heads, headDim, shapeChain));
        return B.Add(h, Linear(Gelu(Linear(LayerNorm(h, c), c, hidden)), hidden, c));
    }

    /// <summary>A small ViT-style encoder: input [N, T, C], two blocks (constant Reshape targets, then PyTorch-style
    /// Shape chains), final LayerNorm and a 5-way head.</summary>
    public static OnnxModel Vit(int seed, long c = 16, long heads = 4, long headDim = 4, long hidden = 32, long tokens = 6, bool chains = true)
    {
        var f = new ModelFactory(new Random(seed));
        var x = f.B.Input("tokens", ElementType.Float, "N", tokens, c);
        var h = f.EncoderBlock(x, c, heads, headDim, hidden, shapeChain: false);
        h = f.EncoderBlock(h, c, heads, headDim, hidden, shapeChain: chains);
        var y = f.Linear(f.LayerNorm(h, c), c, 5);
        f.B.Output(y, ElementType.Float, "N", tokens, 5);
        return f.B.Build();
    }
}
