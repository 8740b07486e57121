using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Analysis.Rules;

/// <summary>Slice: unsliced axes couple; a sliced axis (step 1, non-negative bounds) couples output unit j to input unit
/// start + j, and its bounds are rewritten when units go (units before the start form their own groups). Slices of small integer vectors keep their tracked elements.</summary>
public sealed class SliceRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } = ["Slice"];

    private sealed record Plan(int[] Axes, long[] Starts, long[] Ends, long[] Steps);

    private static Plan? Read(Node node, int rank, Func<int, long[]?> values)
    {
        var starts = node.Attributes.GetInts("starts") ?? values(1);
        var ends = node.Attributes.GetInts("ends") ?? values(2);
        if (starts is null || ends is null || starts.Length != ends.Length || rank < 0) return null;
        var axes = node.Attributes.GetInts("axes") ?? (node.Input(3) is not null ? values(3) : null) ?? Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
        var steps = (node.Input(4) is not null ? values(4) : null) ?? Enumerable.Repeat(1L, starts.Length).ToArray();
        if (axes.Length != starts.Length || steps.Length != starts.Length) return null;
        return new Plan(axes.Select(a => RuleHelpers.Axis(a, rank)).ToArray(), starts, ends, steps);
    }

    // Positions selected on an axis of size n.
    private static List<long> Selected(long n, long start, long end, long step)
    {
        var result = new List<long>();
        if (step == 0) return result;
        if (start < 0) start += n;
        if (end < 0) end += n;
        if (step > 0)
        {
            start = Math.Clamp(start, 0, n);
            end = Math.Clamp(end, 0, n);
            for (long i = start; i < end; i += step) result.Add(i);
        }
        else
        {
            start = Math.Clamp(start, -1, n - 1);
            end = Math.Clamp(end, -1, n - 1);
            for (long i = start; i > end; i += step) result.Add(i);
        }
        return result;
    }

    // Where element k of the starts (input 1) / ends (input 2) lives: a constant element, or the attribute (opset < 10).
    private static (Value? Constant, int Index, bool Rewritable) Element(CouplingContext ctx, int input, int k)
    {
        if (ctx.Node.Attributes.Contains(input == 1 ? "starts" : "ends")) return (null, k, true);
        var e = ctx.Info(ctx.In(input)!).Elements![k];
        return (e.Constant, e.ConstantIndex, e.Constant is not null);
    }

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx)
    {
        var x = ctx.Input(0);
        var plan = Read(ctx.Node, x.Rank, ctx.InputValues);
        if (x.Shape is null || plan is null) { ctx.SetOutput(0, x.ElementType, null); return; }
        var shape = x.Shape.ToArray();
        IReadOnlyList<TrackedElement>? elements = null;
        for (int k = 0; k < plan.Axes.Length; k++)
        {
            int a = plan.Axes[k];
            if (x.Shape[a].Value is not long n) { shape[a] = Dim.Unknown; continue; }
            var selected = Selected(n, plan.Starts[k], plan.Ends[k], plan.Steps[k]);
            shape[a] = new Dim(selected.Count);
            if (x.Rank == 1 && x.Elements is { } e) elements = selected.Select(i => e[(int)i]).ToArray();
        }
        ctx.SetOutput(0, x.ElementType, shape, elements);
    }

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        var (x, y) = (ctx.In(0)!, ctx.Out(0)!);
        int r = ctx.Rank(x);
        RuleHelpers.AcknowledgeInputs(ctx, 1);
        var plan = Read(ctx.Node, r, i => ctx.In(i) is { } v ? ctx.Info(v).KnownValues : null);
        if (plan is null) { ctx.OpaqueValue(x, $"{ctx.Where}: slice bounds unknown"); ctx.OpaqueValue(y, $"{ctx.Where}: slice bounds unknown"); return; }
        for (int a = 0; a < r; a++)
        {
            int k = Array.IndexOf(plan.Axes, a);
            if (k < 0) { ctx.Same(x, a, y, a); continue; }
            if (ctx.Size(x, a) is not long n) continue;
            long start = plan.Starts[k], end = plan.Ends[k];
            if (plan.Steps[k] != 1 || start < 0 || end < 0 || start >= n)
            {
                var reason = $"{ctx.Where} slices axis {a} with negative bounds or a step (not mapped)";
                ctx.Opaque(x, a, reason);
                ctx.Opaque(y, a, reason);
                continue;
            }
            // Output unit j is input unit start + j. Removing units before the start shifts both bounds; removing units
            // inside shifts the end (harmless when the end is "to the end"); units after the end are not read.
            ctx.Offset(y, a, x, a, start);
            bool toEnd = end >= n; // the end follows any shrinking by itself
            var (startConst, startIndex, startOk) = Element(ctx, 1, k);
            var (endConst, endIndex, endOk) = Element(ctx, 2, k);
            if ((start > 0 && !startOk) || (!toEnd && !endOk))
            {
                var reason = $"{ctx.Where}: bounds of axis {a} are computed at run time and cannot be rewritten";
                ctx.Opaque(x, a, reason);
                ctx.Opaque(y, a, reason);
                continue;
            }
            var tag = $"{ctx.Node.DisplayName}:before:{a}";
            ctx.Region(x, a, 0, start, tag, startConst, startConst is null ? "starts" : null, startIndex);
            if (toEnd) continue;
            ctx.Region(x, a, 0, start, tag, endConst, endConst is null ? "ends" : null, endIndex);
            if (endConst is not null) ctx.ShapeElement(y, a, endConst, endIndex);
            else ctx.Attribute(y, a, "ends", k);
        }
    }
}
