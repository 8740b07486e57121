using OnnxPrune.Graph;

namespace OnnxPrune.Analysis.Rules;

/// <summary>
/// Reshape with a constant or tracked target shape (0 = copy, -1 = infer; PyTorch's Shape→Gather→Concat chains
/// resolve through tracked elements). Axes regroup as described in <see cref="Regroup"/>; a target element that must
/// shrink is a constant (rewritten as a ShapeElement item), a -1, a copied 0, or a run-time size that follows by
/// itself; anything else blocks.
/// </summary>
public sealed class ReshapeRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } = ["Reshape"];

    private static Dim[]? Target(TensorInfo x, TensorInfo shape, bool allowZero, Func<Value, int, Dim> dimOf)
    {
        if (shape.Elements is not { } e || x.Shape is null) return null;
        var dims = new Dim[e.Count];
        int inferred = -1;
        for (int j = 0; j < e.Count; j++)
        {
            var el = e[j];
            if (el.Value == 0 && !allowZero) dims[j] = j < x.Shape.Count ? x.Shape[j] : Dim.Unknown;
            else if (el.Value == -1) inferred = j;
            else if (el.Value is long v) dims[j] = new Dim(v);
            else if (el.DimValue is { } dv) dims[j] = dimOf(dv, el.DimAxis);
            else dims[j] = el.Symbol;
        }
        if (inferred >= 0)
        {
            // -1: total / the rest; unknown dims must cancel (same symbolic names or the same run-time dims).
            var inUnknown = x.Shape.Where(d => !d.IsKnown).Select(d => d.Param).ToList();
            var outUnknown = dims.Where((d, j) => j != inferred && !d.IsKnown).Select(d => d.Param).ToList();
            bool cancel = inUnknown.Count == outUnknown.Count && inUnknown.All(p => p is not null) &&
                          inUnknown.Order().SequenceEqual(outUnknown.Order());
            if (cancel)
            {
                long pin = x.Shape.Where(d => d.IsKnown).Aggregate(1L, (p, d) => p * d.Value!.Value);
                long pout = dims.Where((d, j) => j != inferred && d.IsKnown).Aggregate(1L, (p, d) => p * d.Value!.Value);
                dims[inferred] = pout != 0 && pin % pout == 0 ? new Dim(pin / pout) : Dim.Unknown;
            }
            else if (inUnknown.Count == outUnknown.Count + 1 && x.Shape.Where(d => d.IsKnown).Aggregate(1L, (p, d) => p * d.Value!.Value) ==
                     dims.Where((d, j) => j != inferred && d.IsKnown).Aggregate(1L, (p, d) => p * d.Value!.Value))
            {
                // -1 takes the one unmatched symbolic input dim (e.g. [-1, C·H·W] on a [batch, C, H, W] input).
                var rest = inUnknown.ToList();
                foreach (var p in outUnknown) rest.Remove(p);
                dims[inferred] = rest.Count == 1 && rest[0] is { } param ? new Dim(param) : Dim.Unknown;
            }
            else
            {
                // Symbolic: -1 = (product of the input dims) / (product of the other output dims) when those are known,
                // an expression dim (e.g. [B, T, C] → [-1, C] gives B·T).
                var rest = x.Shape.Aggregate(new Dim(1), DimExpression.Mul);
                long pout = dims.Where((d, j) => j != inferred && d.IsKnown).Aggregate(1L, (p, d) => p * d.Value!.Value);
                dims[inferred] = outUnknown.Count == 0 && pout > 0 && (rest.IsKnown || rest.Param is not null) ? DimExpression.FloorDiv(rest, pout) : Dim.Unknown;
            }
        }
        return dims;
    }

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx)
    {
        var x = ctx.Input(0);
        var dims = Target(x, ctx.Input(1), ctx.Node.Attributes.GetInt("allowzero", 0) != 0,
            (v, a) => ctx.Info(v).Shape is { } s && a < s.Count ? s[a] : Dim.Unknown);
        ctx.SetOutput(0, x.ElementType, dims);
    }

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        var (x, shapeValue, y) = (ctx.In(0)!, ctx.In(1)!, ctx.Out(0)!);
        ctx.AcknowledgeAll(shapeValue);
        var xi = ctx.Info(x);
        var yi = ctx.Info(y);
        var elements = ctx.Info(shapeValue).Elements;
        bool allowZero = ctx.Node.Attributes.GetInt("allowzero", 0) != 0;
        if (ChannelShuffle.TryCouple(ctx, elements, allowZero)) return;
        List<Regroup.Segment>? segments = null;
        if (xi.Shape is not null && yi.Shape is not null && elements is not null && elements.Count == yi.Rank)
        {
            segments = Regroup.Cut(xi.Shape, yi.Shape, (i, j) =>
                (elements[j].Value == 0 && !allowZero && i == j) ||
                (elements[j].DimValue == x && elements[j].DimAxis == i) ||
                (xi.Shape[i].Param is { } p && yi.Shape[j].Param == p));
        }
        if (segments is null)
        {
            var reason = $"{ctx.Where}: target shape is computed at run time or does not regroup axes in a way that can be mapped";
            ctx.OpaqueValue(x, reason);
            ctx.OpaqueValue(y, reason);
            return;
        }
        Regroup.Couple(ctx, x, y, segments, (j, i) =>
        {
            var e = elements![j];
            if (e.Value == -1 || (e.Value == 0 && !allowZero)) return null;
            if (e.Constant is { } c) { ctx.ShapeElement(y, j, c, e.ConstantIndex); return null; }
            if (e.Scaled is { } s) return ScaledUnitAxis(ctx, s, x, i, y, j);
            return e.FollowsDims ? null : $"{ctx.Where}: target size of axis {j} is computed at run time in a way that cannot be mapped";
        }, (j, i, m) => InnerAxis(ctx, elements![j], allowZero, x, i, y, j, m));
    }

    // A unit axis whose target is dim(v, a) / c (a head count: hidden / head size) or dim(v, a) · c: it follows by itself
    // when each unit of the axis owns c positions of (v, a) (or c positions of the axis per unit of (v, a)), which the
    // segment already ensures for the Reshape's own input axis and a Block coupling ensures for any other value.
    private static string? ScaledUnitAxis(CouplingContext ctx, ScaledDim s, Value x, int i, Value y, int j)
    {
        long? sy = ctx.Size(y, j), sv = ctx.Size(s.DimValue, s.Axis);
        string formula = $"{(s.Divide ? "" : $"{s.By} · ")}dim {s.Axis} of '{s.DimValue.Name}'{(s.Divide ? $" / {s.By}" : "")}";
        if (sy is null || sv is null)
            return $"{ctx.Where}: target size of axis {j} is {formula} (computed by {s.Node.OpType} node {s.Node.DisplayName}), whose size is unknown";
        bool fits = s.Divide ? sv == sy * s.By : sv * s.By == sy;
        if (!fits)
            return $"{ctx.Where}: target size of axis {j} ({sy}) is {formula} (computed by {s.Node.OpType} node {s.Node.DisplayName}), " +
                   "which does not split into whole units of the axis";
        if (s.DimValue == x && s.Axis == i) return null; // the segment's own coupling gives each unit its share
        if (s.Divide) ctx.Block(y, j, s.DimValue, s.Axis, s.By);
        else ctx.Block(s.DimValue, s.Axis, y, j, s.By);
        return null;
    }

    // An inner axis of a split keeps its size (the head size). A run-time target for it must not change: a head size
    // computed as dim(x, i) / heads (HF's hidden // num_heads) stays when the divisor shrinks with the heads (rewritten as
    // a shape element of the head axis m); any other dim it is read or computed from must keep its size.
    private static void InnerAxis(CouplingContext ctx, TrackedElement e, bool allowZero, Value x, int i, Value y, int j, int m)
    {
        if (e.Value == -1 || (e.Value == 0 && !allowZero) || e.Constant is not null) return;
        if (e.Scaled is { Divide: true, Constant: { } c } s && s.DimValue == x && s.Axis == i &&
            ctx.Size(y, m) == s.By && ctx.Size(x, i) is long sx && ctx.Size(y, j) is long sj && sx == sj * s.By)
        {
            ctx.ShapeElement(y, m, c, s.ConstantIndex, s.Node);
            return;
        }
        string by = e.Scaled is { } s2 ? $" (through {s2.Node.OpType} node {s2.Node.DisplayName})" : "";
        foreach (var (dimValue, axis) in e.ReadDims)
            ctx.Opaque(dimValue, axis, $"{ctx.Where}: the size of inner axis {j} of its target is computed from axis {axis} of '{dimValue.Name}'{by}, " +
                                       "which must then keep its size");
    }
}
