using OnnxPrune.Graph;

namespace OnnxPrune.Analysis.Rules;

/// <summary>Conv: output channels are a source; input channels couple to the weight's axis 1 (group = 1) or, for a
/// depthwise conv (group = input channels), to output-channel blocks of the channel multiplier, with `group` rewritten;
/// for other grouped convs a unit is one channel index in every group (the group count stays).</summary>
public sealed class ConvRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } = ["Conv"];

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx)
    {
        var x = ctx.Input(0);
        var w = ctx.Input(1);
        if (x.Shape is null || w.Shape is null || x.Rank < 3) { ctx.SetOutput(0, x.ElementType, null); return; }
        int spatial = x.Rank - 2;
        var a = ctx.Node.Attributes;
        var kernel = a.GetInts("kernel_shape") ?? w.Shape.Skip(2).Select(d => d.Value ?? 0).ToArray();
        var strides = a.GetInts("strides") ?? Enumerable.Repeat(1L, spatial).ToArray();
        var dil = a.GetInts("dilations") ?? Enumerable.Repeat(1L, spatial).ToArray();
        var pads = a.GetInts("pads") ?? new long[2 * spatial];
        var autoPad = a.GetString("auto_pad", "NOTSET")!;
        var shape = new Dim[x.Rank];
        shape[0] = x.Shape[0];
        shape[1] = w.Shape[0];
        for (int i = 0; i < spatial; i++)
            shape[2 + i] = RuleHelpers.Window(x.Shape[2 + i], kernel[i], strides[i], dil[i], pads[i], pads[i + spatial], autoPad);
        ctx.SetOutput(0, x.ElementType, shape);
    }

    /// <summary>MACs: <c>numel(Y)·∏W.shape[1:]</c> = numel(Y)·(C_in/group)·∏k (depthwise: numel(Y)·∏k).</summary>
    public override long? Macs(MacContext ctx) =>
        ctx.Output(0) is { } y && ctx.Input(1) is { } w ? checked(MacContext.Product(y) * MacContext.Product(w.AsSpan(1))) : null;

    /// <inheritdoc/>
    public override IReadOnlyList<int> MacWeightInputs { get; } = [1];

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        var (x, w, b, y) = (ctx.In(0)!, ctx.In(1)!, ctx.In(2), ctx.Out(0)!);
        ctx.Same(x, 0, y, 0);
        ctx.Same(w, 0, y, 1);
        ctx.Source(y, 1, GroupKind.Channels);
        ctx.Scored(w, 0);
        if (b is not null) ctx.Same(b, 0, y, 1);
        long group = ctx.Node.Attributes.GetInt("group", 1);
        var channels = ctx.Size(x, 1);
        if (group == 1)
        {
            ctx.Same(w, 1, x, 1);
            ctx.Scored(w, 1);
        }
        else if (channels == group && ctx.Size(y, 1) is long outChannels && outChannels % group == 0 && ctx.Size(w, 1) == 1)
        {
            // Depthwise (with channel multiplier m): input channel c feeds output channels [c·m, (c+1)·m).
            ctx.Block(x, 1, y, 1, outChannels / group);
            ctx.Acknowledge(w, 1);
            ctx.Attribute(x, 1, "group");
        }
        else if (group > 1 && channels is long c && c % group == 0 && ctx.Size(y, 1) is long m && m % group == 0 && ctx.Size(w, 1) == c / group)
        {
            // Grouped: every group must keep the same number of input and output channels, so a unit is one channel
            // index taken in every group (input channel i ↔ weight column i mod c/g; output j ↔ j mod m/g).
            long perIn = c / group, perOut = m / group;
            for (long i = 0; i < c; i++) ctx.Couple(x, 1, i, w, 1, i % perIn);
            for (long j = perOut; j < m; j++) ctx.Couple(y, 1, j, y, 1, j % perOut);
            ctx.Scored(w, 1);
        }
        else
        {
            var reason = $"{ctx.Where}: grouped convolution (group={group} over {channels?.ToString() ?? "?"} channels) has unexpected shapes";
            ctx.Opaque(x, 1, reason);
            ctx.Opaque(y, 1, reason);
            ctx.Opaque(w, 0, reason);
            ctx.Opaque(w, 1, reason);
        }
    }
}
