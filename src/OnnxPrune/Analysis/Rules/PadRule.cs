using OnnxPrune.Graph;

namespace OnnxPrune.Analysis.Rules;

/// <summary>Pad: axes without padding couple; padded axes (including a channel-axis "option A" shortcut) cannot be
/// mapped yet and block their groups.</summary>
public sealed class PadRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } = ["Pad"];

    private static long[]? FullPads(long[]? pads, long[]? axes, int rank)
    {
        if (pads is null || rank < 0) return null;
        if (axes is null) return pads.Length == 2 * rank ? pads : null;
        var full = new long[2 * rank];
        for (int k = 0; k < axes.Length; k++)
        {
            int a = RuleHelpers.Axis(axes[k], rank);
            full[a] = pads[k];
            full[a + rank] = pads[k + axes.Length];
        }
        return full;
    }

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx)
    {
        var x = ctx.Input(0);
        var pads = FullPads(RuleHelpers.IntsFromAttributeOrInput(ctx, "pads", 1), ctx.Node.Input(3) is not null ? ctx.InputValues(3) : null, x.Rank);
        if (x.Shape is null || pads is null) { ctx.SetOutput(0, x.ElementType, null); return; }
        int r = x.Rank;
        ctx.SetOutput(0, x.ElementType, x.Shape.Select((d, i) => d.Value is long n ? new Dim(n + pads[i] + pads[i + r]) : pads[i] + pads[i + r] == 0 ? d : Dim.Unknown).ToArray());
    }

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        var (x, y) = (ctx.In(0)!, ctx.Out(0)!);
        int r = ctx.Rank(x);
        var pads = FullPads(RuleHelpers.IntsFromAttributeOrInput(ctx, "pads", 1), ctx.In(3) is { } ax ? ctx.Info(ax).KnownValues : null, r);
        RuleHelpers.AcknowledgeInputs(ctx, 1);
        if (pads is null) { ctx.OpaqueValue(x, $"{ctx.Where}: pads unknown"); ctx.OpaqueValue(y, $"{ctx.Where}: pads unknown"); return; }
        for (int i = 0; i < r; i++)
        {
            if (pads[i] == 0 && pads[i + r] == 0) { ctx.Same(x, i, y, i); continue; }
            var reason = $"{ctx.Where} pads axis {i} (padded units cannot be pruned yet)";
            ctx.Opaque(x, i, reason);
            ctx.Opaque(y, i, reason);
        }
    }
}
