using OnnxPrune.Graph;

namespace OnnxPrune.Analysis.Rules;

/// <summary>Pad: unpadded axes couple; on a padded axis (constant mode, e.g. a channel-axis "option A" shortcut) input
/// unit j sits at pad_begin + j, and the padded positions are units of their own whose removal shrinks the pads.</summary>
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
        var axesValues = ctx.In(3) is { } ax ? ctx.Info(ax).KnownValues : null;
        var pads = FullPads(RuleHelpers.IntsFromAttributeOrInput(ctx, "pads", 1), axesValues, r);
        RuleHelpers.AcknowledgeInputs(ctx, 1);
        if (pads is null) { ctx.OpaqueValue(x, $"{ctx.Where}: pads unknown"); ctx.OpaqueValue(y, $"{ctx.Where}: pads unknown"); return; }
        bool constantMode = (ctx.Node.Attributes.GetString("mode", "constant") ?? "constant") == "constant";
        bool fromAttribute = ctx.Node.Attributes.Contains("pads");
        var padElements = fromAttribute ? null : ctx.Info(ctx.In(1)!).Elements;
        for (int i = 0; i < r; i++)
        {
            long pb = pads[i], pe = pads[i + r];
            if (pb == 0 && pe == 0) { ctx.Same(x, i, y, i); continue; }
            // Raw indices of this axis' begin/end pads (pads may list only `axes`).
            int k = axesValues is null ? i : Array.FindIndex(axesValues, v => RuleHelpers.Axis(v, r) == i);
            int count = axesValues?.Length ?? r;
            bool rewritable = fromAttribute || (padElements is not null && padElements[k].Constant is not null && padElements[k + count].Constant is not null);
            if (!constantMode || pb < 0 || pe < 0 || !rewritable || ctx.Size(x, i) is not long n)
            {
                var reason = $"{ctx.Where} pads axis {i} ({(constantMode ? "pads not rewritable" : "non-constant mode")})";
                ctx.Opaque(x, i, reason);
                ctx.Opaque(y, i, reason);
                continue;
            }
            // Input unit j sits at pb + j; padded positions are units of their own whose removal shrinks the pads.
            ctx.Offset(x, i, y, i, pb);
            foreach (var (from, to, idx, tag) in new[] { (0L, pb, k, "begin"), (pb + n, pb + n + pe, k + count, "end") })
            {
                if (fromAttribute) ctx.Region(y, i, from, to, $"{ctx.Node.DisplayName}:{tag}:{i}", null, "pads", idx);
                else ctx.Region(y, i, from, to, $"{ctx.Node.DisplayName}:{tag}:{i}", padElements![idx].Constant, null, padElements[idx].ConstantIndex);
            }
        }
    }
}
