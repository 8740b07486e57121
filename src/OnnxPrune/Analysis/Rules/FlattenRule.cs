using OnnxPrune.Graph;

namespace OnnxPrune.Analysis.Rules;

/// <summary>Flatten: axes before `axis` merge into output axis 0, the rest into axis 1 (channel c ↔ columns
/// [c·s, (c+1)·s) when channels lead the merged axes).</summary>
public sealed class FlattenRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } = ["Flatten"];

    private static Dim Product(IEnumerable<Dim> dims)
    {
        var list = dims.ToList();
        if (list.All(d => d.IsKnown)) return new Dim(list.Aggregate(1L, (p, d) => p * d.Value!.Value));
        var unknown = list.Where(d => !d.IsKnown).ToList();
        return unknown.Count == 1 && list.Where(d => d.IsKnown).All(d => d.Value == 1) ? unknown[0] : Dim.Unknown;
    }

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx)
    {
        var x = ctx.Input(0);
        if (x.Shape is null) { ctx.SetOutput(0, x.ElementType, null); return; }
        long axis = ctx.Node.Attributes.GetInt("axis", 1);
        int a = (int)(axis < 0 ? axis + x.Rank : axis);
        ctx.SetOutput(0, x.ElementType, [Product(x.Shape.Take(a)), Product(x.Shape.Skip(a))]);
    }

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        var (x, y) = (ctx.In(0)!, ctx.Out(0)!);
        var (xi, yi) = (ctx.Info(x), ctx.Info(y));
        var segments = xi.Shape is not null && yi.Shape is not null
            ? Regroup.Cut(xi.Shape, yi.Shape, (i, j) => xi.Shape[i].Param is { } p && yi.Shape[j].Param == p)
            : null;
        if (segments is null)
        {
            var reason = $"{ctx.Where}: cannot map the flattened axes (sizes unknown)";
            ctx.OpaqueValue(x, reason);
            ctx.OpaqueValue(y, reason);
            return;
        }
        Regroup.Couple(ctx, x, y, segments, (_, _) => null);
    }
}
