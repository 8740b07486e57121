using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace TrainEmbeddedModels;

/// <summary>
/// The architectures of the embedded default models, emitted with <see cref="GraphBuilder"/> and seeded initial weights.
/// Both take [N,1,28,28] float32 pixels in [0,1], normalize inside the graph and return logits [N,10].
/// </summary>
public static class EmbeddedModels
{
    private const float FashionMean = 0.2860f, FashionStd = 0.3530f;

    /// <summary>
    /// A small ResNet: stem conv 3×3 (16) → basic block 16 → basic block 32 (stride 2, 1×1 projection) → basic block 64
    /// (stride 2, 1×1 projection) → GlobalAveragePool → Flatten → Gemm(10). BatchNormalization kept separate.
    /// </summary>
    public static OnnxModel ResNet(int seed, int[]? widths = null)
    {
        widths ??= [16, 32, 64];
        var init = new Init(seed);
        var b = new GraphBuilder(opset: 17);
        var x = b.Input("input", ElementType.Float, "N", 1, 28, 28);
        var h = Normalize(b, x);
        int stage = 0;
        h = ConvBn(b, init, h, 1, widths[0], 3, 1, "stem", relu: true);
        int cin = widths[0];
        foreach (var w in widths)
        {
            int stride = stage == 0 ? 1 : 2;
            var name = $"layer{stage + 1}";
            var y = ConvBn(b, init, h, cin, w, 3, stride, name + ".conv1", relu: true);
            y = ConvBn(b, init, y, w, w, 3, 1, name + ".conv2", relu: false, zeroGamma: true);
            var shortcut = stride != 1 || cin != w ? ConvBn(b, init, h, cin, w, 1, stride, name + ".downsample", relu: false) : h;
            h = b.Relu(b.Add(y, shortcut));
            cin = w;
            stage++;
        }
        var pooled = b.Flatten(b.GlobalAveragePool(h));
        var fcW = b.Initializer("fc.weight", init.Uniform(10 * cin, 1f / MathF.Sqrt(cin)), 10, cin);
        var fcB = b.Initializer("fc.bias", new float[10], 10);
        var logits = b.Gemm(pooled, fcW, fcB, transB: true);
        b.Output(logits, ElementType.Float, "N", 10);
        logits.Producer!.Name = "fc";
        b.Model.ProducerName = "OnnxPrune TrainEmbeddedModels";
        return b.Build();
    }

    /// <summary>
    /// The multi-task model: a shared backbone (stem conv 3×3 (16) + BN + Relu → basic blocks 16, 32 (stride 2), 48 (stride 2)
    /// with residual Adds and BN) and three heads with their own outputs: <c>logits</c> [N,10] (1×1 conv 32 + Relu →
    /// GlobalAveragePool → Gemm), <c>coarse_logits</c> [N,4] (1×1 conv 16 + Relu → GlobalAveragePool → Gemm) and
    /// <c>reconstruction</c> [N,1,14,14] (ConvTranspose 2×2 stride 2 (16) + Relu → conv 3×3 (1)) of the area-averaged input.
    /// </summary>
    public static OnnxModel MultiTask(int seed, int[]? widths = null)
    {
        widths ??= [16, 32, 48];
        var init = new Init(seed);
        var b = new GraphBuilder(opset: 17);
        var x = b.Input("input", ElementType.Float, "N", 1, 28, 28);
        var h = Normalize(b, x);
        h = ConvBn(b, init, h, 1, widths[0], 3, 1, "stem", relu: true);
        int cin = widths[0];
        for (int stage = 0; stage < widths.Length; stage++)
        {
            int w = widths[stage], stride = stage == 0 ? 1 : 2;
            var name = $"layer{stage + 1}";
            var y = ConvBn(b, init, h, cin, w, 3, stride, name + ".conv1", relu: true);
            y = ConvBn(b, init, y, w, w, 3, 1, name + ".conv2", relu: false, zeroGamma: true);
            var shortcut = stride != 1 || cin != w ? ConvBn(b, init, h, cin, w, 1, stride, name + ".downsample", relu: false) : h;
            h = b.Relu(b.Add(y, shortcut));
            cin = w;
        }
        Value Classifier(string name, int hidden, int classes, string output)
        {
            var cw = b.Initializer(name + ".conv.weight", init.He(hidden * cin, cin), hidden, cin, 1, 1);
            var conv = b.Conv(h, cw, b.Initializer(name + ".conv.bias", new float[hidden], hidden));
            conv.Producer!.Name = name + ".conv";
            var pooled = b.Flatten(b.GlobalAveragePool(b.Relu(conv)));
            var fw = b.Initializer(name + ".fc.weight", init.Uniform(classes * hidden, 1f / MathF.Sqrt(hidden)), classes, hidden);
            var gemm = b.Graph.AddNode("Gemm", [pooled, fw, b.Initializer(name + ".fc.bias", new float[classes], classes)], [output], name + ".fc");
            gemm.Attributes.Set("transB", 1L);
            return gemm.Output(0)!;
        }
        var fine = Classifier("class", 32, 10, "logits");
        var coarse = Classifier("coarse", 16, 4, "coarse_logits");
        const int decoder = 16;
        // ConvTranspose weights are [Cin, Cout, kH, kW]; fan-in per output pixel is Cin (2×2 kernel, stride 2: one tap each).
        var tw = b.Initializer("recon.up.weight", init.He(cin * decoder * 4, cin), cin, decoder, 2, 2);
        var up = b.Op("ConvTranspose", [h, tw, b.Initializer("recon.up.bias", new float[decoder], decoder)],
            ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }));
        up.Producer!.Name = "recon.up";
        var rw = b.Initializer("recon.out.weight", init.Uniform(decoder * 9, 1f / MathF.Sqrt(decoder * 9)), 1, decoder, 3, 3);
        var outConv = b.Graph.AddNode("Conv", [b.Relu(up), rw, b.Initializer("recon.out.bias", [0.286f], 1)], ["reconstruction"], "recon.out");
        outConv.Attributes.Set("pads", new long[] { 1, 1, 1, 1 });
        var recon = outConv.Output(0)!;
        b.Output(fine, ElementType.Float, "N", 10);
        b.Output(coarse, ElementType.Float, "N", 4);
        b.Output(recon, ElementType.Float, "N", 1, 14, 14);
        b.Model.ProducerName = "OnnxPrune TrainEmbeddedModels";
        return b.Build();
    }

    private static Value ConvBn(GraphBuilder b, Init init, Value x, int cin, int cout, int k, int stride, string name, bool relu, bool zeroGamma = false)
    {
        var w = b.Initializer(name + ".weight", init.He(cout * cin * k * k, cin * k * k), cout, cin, k, k);
        var conv = b.Conv(x, w, null, strides: [stride, stride], pads: [k / 2, k / 2, k / 2, k / 2]);
        conv.Producer!.Name = name;
        var gamma = new float[cout];
        if (!zeroGamma) Array.Fill(gamma, 1f);
        var ones = new float[cout];
        Array.Fill(ones, 1f);
        var bn = b.BatchNorm(conv, b.Initializer(name + ".bn.weight", gamma, cout), b.Initializer(name + ".bn.bias", new float[cout], cout),
            b.Initializer(name + ".bn.running_mean", new float[cout], cout), b.Initializer(name + ".bn.running_var", ones, cout));
        bn.Producer!.Name = name + ".bn";
        return relu ? b.Relu(bn) : bn;
    }

    /// <summary>
    /// A small Vision Transformer: Conv patch embedding (patch <paramref name="patch"/>), CLS token, learned position
    /// embedding, <paramref name="depth"/> pre-norm encoder blocks with decomposed multi-head attention (MatMul/Add
    /// projections → Reshape to heads → Transpose → MatMul → Softmax → MatMul → Transpose → Reshape → output projection),
    /// LayerNormalization and a GELU MLP (Erf form); final LayerNormalization, CLS token (Gather) → Gemm(10).
    /// </summary>
    public static OnnxModel ViT(int seed, int dim = 64, int heads = 4, int depth = 4, int patch = 4, int mlp = 128)
    {
        var init = new Init(seed);
        var b = new GraphBuilder(opset: 17);
        var x = b.Input("input", ElementType.Float, "N", 1, 28, 28);
        var h = Normalize(b, x);
        int grid = 28 / patch, tokens = grid * grid, dh = dim / heads;
        var pw = b.Initializer("patch_embed.weight", init.Normal(dim * patch * patch, 0.02f * MathF.Sqrt(64f / (patch * patch))), dim, 1, patch, patch);
        var pb = b.Initializer("patch_embed.bias", new float[dim], dim);
        var emb = b.Conv(h, pw, pb, strides: [patch, patch]);
        emb.Producer!.Name = "patch_embed";
        var seq = b.Transpose(b.Op("Reshape", [emb, b.Int64s("tokens_shape", 0, dim, tokens)]), 0, 2, 1); // [N, T, D]
        // CLS token broadcast to the batch: Expand(cls, [N, 1, D]) with N read from the input's shape.
        var batchDim = b.Op("Slice", [b.Op("Shape", [x]), b.Int64s("zero", 0), b.Int64s("one", 1)]);
        var clsShape = b.Concat(0, batchDim, b.Int64s("cls_tail", 1, dim));
        var cls = b.Op("Expand", [b.Initializer("cls_token", new float[dim], 1, 1, dim), clsShape]);
        seq = b.Concat(1, cls, seq);
        seq = b.Add(seq, b.Initializer("pos_embed", init.Normal((tokens + 1) * dim, 0.02f), 1, tokens + 1, dim));
        var headShape = b.Int64s("head_shape", 0, 0, heads, dh);
        var mergeShape = b.Int64s("merge_shape", 0, 0, dim);
        var scale = b.Initializer("attn_scale", Tensor.Scalar(1f / MathF.Sqrt(dh)));
        for (int i = 0; i < depth; i++)
        {
            var p = $"blocks.{i}.";
            var n1 = LayerNorm(b, seq, dim, p + "norm1");
            Value Proj(Value v, string name, int din, int dout) =>
                b.Add(b.MatMul(v, b.Initializer(p + name + ".weight", init.Normal(din * dout, 0.02f), din, dout)), b.Initializer(p + name + ".bias", new float[dout], dout));
            var q = b.Transpose(b.Op("Reshape", [Proj(n1, "attn.q", dim, dim), headShape]), 0, 2, 1, 3);  // [N,H,T,dh]
            var k = b.Transpose(b.Op("Reshape", [Proj(n1, "attn.k", dim, dim), headShape]), 0, 2, 3, 1);  // [N,H,dh,T]
            var v = b.Transpose(b.Op("Reshape", [Proj(n1, "attn.v", dim, dim), headShape]), 0, 2, 1, 3);  // [N,H,T,dh]
            var attn = b.Softmax(b.Mul(b.MatMul(q, k), scale), -1);
            var ctx = b.Op("Reshape", [b.Transpose(b.MatMul(attn, v), 0, 2, 1, 3), mergeShape]);
            seq = b.Add(seq, Proj(ctx, "attn.proj", dim, dim));
            var n2 = LayerNorm(b, seq, dim, p + "norm2");
            var hidden = Gelu(b, Proj(n2, "mlp.fc1", dim, mlp));
            seq = b.Add(seq, Proj(hidden, "mlp.fc2", mlp, dim));
        }
        seq = LayerNorm(b, seq, dim, "norm");
        var clsOut = b.Op("Gather", [seq, b.Initializer("cls_index", Tensor.Scalar(0L))], ("axis", 1L)); // [N, D]
        var logits = b.Gemm(clsOut, b.Initializer("head.weight", init.Normal(10 * dim, 0.02f), 10, dim), b.Initializer("head.bias", new float[10], 10), transB: true);
        logits.Producer!.Name = "head";
        b.Output(logits, ElementType.Float, "N", 10);
        b.Model.ProducerName = "OnnxPrune TrainEmbeddedModels";
        return b.Build();
    }

    private static Value Normalize(GraphBuilder b, Value x) =>
        b.Op("Div", [b.Op("Sub", [x, b.Initializer("pixel_mean", Tensor.Scalar(FashionMean))]), b.Initializer("pixel_std", Tensor.Scalar(FashionStd))]);

    private static Value LayerNorm(GraphBuilder b, Value x, int dim, string name)
    {
        var ones = new float[dim];
        Array.Fill(ones, 1f);
        var y = b.Op("LayerNormalization", [x, b.Initializer(name + ".weight", ones, dim), b.Initializer(name + ".bias", new float[dim], dim)],
            ("axis", -1L), ("epsilon", 1e-5f));
        y.Producer!.Name = name;
        return y;
    }

    private static Value Gelu(GraphBuilder b, Value x)
    {
        var erf = b.Op("Erf", [b.Op("Div", [x, b.Initializer("sqrt2", Tensor.Scalar(MathF.Sqrt(2f)))])]);
        var onePlus = b.Add(erf, b.Initializer("one_f", Tensor.Scalar(1f)));
        return b.Mul(b.Mul(x, onePlus), b.Initializer("half", Tensor.Scalar(0.5f)));
    }

    /// <summary>Seeded initializers.</summary>
    private sealed class Init(int seed)
    {
        private readonly Random _random = new(seed);

        public float[] He(int count, int fanIn) => Normal(count, MathF.Sqrt(2f / fanIn));

        public float[] Uniform(int count, float bound)
        {
            var v = new float[count];
            for (int i = 0; i < count; i++) v[i] = (2 * _random.NextSingle() - 1) * bound;
            return v;
        }

        public float[] Normal(int count, float std)
        {
            var v = new float[count];
            for (int i = 0; i < count; i++)
            {
                // Box–Muller, truncated at 2σ as in timm's trunc_normal_.
                float z;
                do
                {
                    double u1 = 1 - _random.NextDouble(), u2 = _random.NextDouble();
                    z = (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
                } while (MathF.Abs(z) > 2);
                v[i] = z * std;
            }
            return v;
        }
    }
}
