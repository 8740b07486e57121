using OnnxPrune.Graph;

namespace OnnxPrune.Analysis.Rules;

/// <summary>ConvTranspose: weight [C_in, C_out/group, k…]; output channels (weight axis 1) are a source, input channels
/// couple to weight axis 0. With groups, a unit is one channel index in every group.</summary>
public sealed class ConvTransposeRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } = ["ConvTranspose"];

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx)
    {
        var x = ctx.Input(0);
        var w = ctx.Input(1);
        if (x.Shape is null || w.Shape is null || x.Rank < 3) { ctx.SetOutput(0, x.ElementType, null); return; }
        int spatial = x.Rank - 2;
        var a = ctx.Node.Attributes;
        long group = a.GetInt("group", 1);
        var kernel = a.GetInts("kernel_shape") ?? w.Shape.Skip(2).Select(d => d.Value ?? 0).ToArray();
        var strides = a.GetInts("strides") ?? Enumerable.Repeat(1L, spatial).ToArray();
        var dil = a.GetInts("dilations") ?? Enumerable.Repeat(1L, spatial).ToArray();
        var pads = a.GetInts("pads") ?? new long[2 * spatial];
        var outPad = a.GetInts("output_padding") ?? new long[spatial];
        var outShape = a.GetInts("output_shape");
        var autoPad = a.GetString("auto_pad", "NOTSET")!;
        var shape = new Dim[x.Rank];
        shape[0] = x.Shape[0];
        shape[1] = w.Shape[1].Value is long m ? new Dim(m * group) : Dim.Unknown;
        for (int i = 0; i < spatial; i++)
        {
            if (outShape is not null) { shape[2 + i] = new Dim(outShape[^(spatial - i)]); continue; }
            if (x.Shape[2 + i].Value is not long n) { shape[2 + i] = Dim.Unknown; continue; }
            shape[2 + i] = autoPad is "SAME_UPPER" or "SAME_LOWER"
                ? new Dim(n * strides[i])
                : new Dim(strides[i] * (n - 1) + outPad[i] + (kernel[i] - 1) * dil[i] + 1 - pads[i] - pads[i + spatial]);
        }
        ctx.SetOutput(0, x.ElementType, shape);
    }

    /// <summary>MACs: <c>numel(X)·∏W.shape[1:]</c> = numel(X)·(C_out/group)·∏k.</summary>
    public override long? Macs(MacContext ctx) =>
        ctx.Input(0) is { } x && ctx.Input(1) is { } w ? checked(MacContext.Product(x) * MacContext.Product(w.AsSpan(1))) : null;

    /// <inheritdoc/>
    public override IReadOnlyList<int> MacWeightInputs { get; } = [1];

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        var (x, w, b, y) = (ctx.In(0)!, ctx.In(1)!, ctx.In(2), ctx.Out(0)!);
        ctx.Same(x, 0, y, 0);
        ctx.Same(w, 0, x, 1);
        ctx.Scored(w, 0);
        if (b is not null) ctx.Same(b, 0, y, 1);
        long group = ctx.Node.Attributes.GetInt("group", 1);
        if (group == 1)
        {
            ctx.Same(w, 1, y, 1);
            ctx.Source(y, 1, GroupKind.Channels);
            ctx.Scored(w, 1);
            return;
        }
        if (ctx.Size(x, 1) is long c && c % group == 0 && ctx.Size(w, 1) is long perOut && ctx.Size(y, 1) == perOut * group)
        {
            // Grouped (depthwise included): a unit is one channel index in every group; the group count stays.
            long perIn = c / group;
            for (long i = perIn; i < c; i++) ctx.Couple(x, 1, i, x, 1, i % perIn);
            for (long j = 0; j < perOut * group; j++) ctx.Couple(y, 1, j, w, 1, j % perOut);
            ctx.Source(y, 1, GroupKind.Channels);
            ctx.Scored(w, 1);
            return;
        }
        var reason = $"{ctx.Where}: grouped ConvTranspose (group={group}) has unexpected shapes";
        ctx.Opaque(x, 1, reason);
        ctx.Opaque(y, 1, reason);
        ctx.Opaque(w, 0, reason);
        ctx.Opaque(w, 1, reason);
    }
}
