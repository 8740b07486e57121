using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Pruning;

/// <summary>Small GraphBuilder models with hand-built pruning groups (the analyser is tested on its own branch).</summary>
internal static class TestModels
{
    /// <summary>x[1,Cin,H,W] → conv1(W1[C1,Cin,1,1], b1) → Relu → conv2(W2[C2,C1,1,1]) → y. Group 0: conv1's output channels
    /// (W1 axis 0, b1 axis 0, W2 axis 1, all scored); group 1: conv2's output channels (W2 axis 0).</summary>
    public sealed record TwoConvs(OnnxModel Model, PruningGroup Conv1, PruningGroup Conv2, Value W1, Value B1, Value W2);

    public static TwoConvs BuildTwoConvs(float[] w1, float[] b1, float[] w2, long cin, long c1, long c2, long h = 4, long w = 4,
        ElementType type = ElementType.Float)
    {
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 1, cin, h, w);
        var vw1 = b.Initializer("w1", Convert(w1, type, c1, cin, 1, 1));
        var vb1 = b.Initializer("b1", Convert(b1, type, c1));
        var vw2 = b.Initializer("w2", Convert(w2, type, c2, c1, 1, 1));
        var y1 = b.Conv(x, vw1, vb1);
        var y = b.Conv(b.Relu(y1), vw2);
        b.Output(y);
        var model = b.Build();
        var conv1 = vw1.Consumers[0];
        var conv2 = vw2.Consumers[0];
        var g0 = new PruningGroup
        {
            Id = 0, Key = "w1:0", Kind = GroupKind.Channels, Root = conv1, Size = c1,
            Items =
            [
                new ConstantSliceItem { Value = vw1, Reader = conv1, Axis = 0, IsScored = true },
                new ConstantSliceItem { Value = vb1, Reader = conv1, Axis = 0, IsScored = true },
                new ConstantSliceItem { Value = vw2, Reader = conv2, Axis = 1, IsScored = true },
                new ValueDimItem { Value = y1, Axis = 1 },
            ],
        };
        var g1 = new PruningGroup
        {
            Id = 1, Key = "w2:0", Kind = GroupKind.Channels, Root = conv2, Size = c2,
            Items = [new ConstantSliceItem { Value = vw2, Reader = conv2, Axis = 0, IsScored = true }],
        };
        return new TwoConvs(model, g0, g1, vw1, vb1, vw2);
    }

    public static Tensor Convert(float[] values, ElementType type, params long[] shape) => type switch
    {
        ElementType.Float => Tensor.FromArray<float>(values, shape),
        ElementType.Float16 => Tensor.FromArray<Half>(values.Select(v => (Half)v).ToArray(), shape),
        ElementType.BFloat16 => Tensor.FromArray<BFloat16>(values.Select(v => (BFloat16)v).ToArray(), shape),
        ElementType.Double => Tensor.FromArray<double>(values.Select(v => (double)v).ToArray(), shape),
        _ => throw new ArgumentException(type.ToString()),
    };

    /// <summary>A group whose only scored item is <paramref name="weight"/> sliced on <paramref name="axis"/>.</summary>
    public static PruningGroup SingleSliceGroup(int id, Value weight, int axis, long size, IndexMap? map = null, bool blocked = false) => new()
    {
        Id = id, Kind = GroupKind.Channels, Root = weight.Consumers[0], Size = size,
        Items = [new ConstantSliceItem { Value = weight, Reader = weight.Consumers[0], Axis = axis, Map = map ?? IdentityMap.Instance, IsScored = true }],
        BlockedReasons = blocked ? ["test block"] : Array.Empty<string>(),
    };

    /// <summary>Normalises by the mean, as the default criteria do (for expected values built by hand).</summary>
    public static double[] MeanNormalised(params double[] raw) => raw.Select(r => r / raw.Average()).ToArray();
}
