using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Analysis.Rules;

/// <summary>Slice: axes taken whole couple; sliced axes cannot be mapped yet (their bounds would need rewriting) and
/// block their groups. Slices of small integer vectors keep their tracked elements.</summary>
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
            bool whole = k < 0 || (ctx.Size(x, a) is long n && Selected(n, plan.Starts[k], plan.Ends[k], plan.Steps[k]) is { } s
                                   && s.Count == n && plan.Steps[k] == 1);
            if (whole) { ctx.Same(x, a, y, a); continue; }
            var reason = $"{ctx.Where} slices axis {a} (slice bounds are not rewritten yet)";
            ctx.Opaque(x, a, reason);
            ctx.Opaque(y, a, reason);
        }
    }
}
