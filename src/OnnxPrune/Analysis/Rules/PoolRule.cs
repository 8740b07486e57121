using OnnxPrune.Graph;

namespace OnnxPrune.Analysis.Rules;

/// <summary>Windowed pooling (MaxPool, AveragePool, LpPool): batch and channel axes couple; spatial axes change size.</summary>
public sealed class PoolRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } = ["MaxPool", "AveragePool", "LpPool"];

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx)
    {
        var x = ctx.Input(0);
        if (x.Shape is null || x.Rank < 3) { ctx.SetOutput(0, x.ElementType, null); return; }
        int spatial = x.Rank - 2;
        var a = ctx.Node.Attributes;
        var kernel = a.GetInts("kernel_shape");
        if (kernel is null) { ctx.SetOutput(0, x.ElementType, null); return; }
        var strides = a.GetInts("strides") ?? Enumerable.Repeat(1L, spatial).ToArray();
        var dil = a.GetInts("dilations") ?? Enumerable.Repeat(1L, spatial).ToArray();
        var pads = a.GetInts("pads") ?? new long[2 * spatial];
        var autoPad = a.GetString("auto_pad", "NOTSET")!;
        bool ceil = a.GetInt("ceil_mode", 0) != 0;
        var shape = new Dim[x.Rank];
        shape[0] = x.Shape[0];
        shape[1] = x.Shape[1];
        for (int i = 0; i < spatial; i++)
            shape[2 + i] = RuleHelpers.Window(x.Shape[2 + i], kernel[i], strides[i], dil[i], pads[i], pads[i + spatial], autoPad, ceil);
        ctx.SetOutput(0, x.ElementType, shape);
        if (ctx.Node.Output(1) is not null) ctx.SetOutput(1, Tensors.ElementType.Int64, shape);
    }

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        var (x, y) = (ctx.In(0)!, ctx.Out(0)!);
        ctx.Same(x, 0, y, 0);
        ctx.Same(x, 1, y, 1);
    }
}
