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
            else dims[j] = Dim.Unknown;
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
        Regroup.Couple(ctx, x, y, segments, j =>
        {
            var e = elements![j];
            if (e.Value == -1 || (e.Value == 0 && !allowZero)) return true;
            if (e.Constant is { } c) { ctx.ShapeElement(y, j, c, e.ConstantIndex); return true; }
            return e.FollowsDims;
        });
    }
}
