using OnnxPrune.Graph;

namespace OnnxPrune.Analysis.Rules;

/// <summary>Gather: axes other than the gathered one couple; the gathered axis cannot be mapped (it blocks). Gathers
/// from tracked shape vectors with constant indices keep the tracked elements.</summary>
public sealed class GatherRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } = ["Gather"];

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx)
    {
        var (x, idx) = (ctx.Input(0), ctx.Input(1));
        if (x.Shape is null || idx.Shape is null) { ctx.SetOutput(0, x.ElementType, null); return; }
        int axis = RuleHelpers.Axis(ctx.Node.Attributes.GetInt("axis", 0), x.Rank);
        var shape = x.Shape.Take(axis).Concat(idx.Shape).Concat(x.Shape.Skip(axis + 1)).ToArray();
        IReadOnlyList<TrackedElement>? elements = null;
        if (x.Rank == 1 && x.Elements is { } e && idx.KnownValues is { } indices && indices.Length <= TensorInfo.MaxTrackedElements)
            elements = indices.Select(i => e[(int)(i < 0 ? i + e.Count : i)]).ToArray();
        ctx.SetOutput(0, x.ElementType, shape, elements);
    }

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        var (x, idx, y) = (ctx.In(0)!, ctx.In(1)!, ctx.Out(0)!);
        ctx.AcknowledgeAll(idx);
        int r = ctx.Rank(x), ri = ctx.Rank(idx);
        if (r < 0 || ri < 0) { ctx.OpaqueValue(x, $"{ctx.Where}: rank unknown"); ctx.OpaqueValue(y, $"{ctx.Where}: rank unknown"); return; }
        int axis = RuleHelpers.Axis(ctx.Node.Attributes.GetInt("axis", 0), r);
        for (int i = 0; i < axis; i++) ctx.Same(x, i, y, i);
        for (int i = axis + 1; i < r; i++) ctx.Same(x, i, y, i - 1 + ri);
        ctx.Opaque(x, axis, $"{ctx.Where} gathers along axis {axis}");
    }
}
