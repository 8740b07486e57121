using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Analysis.Rules;

/// <summary>Shape: reads only sizes, so any axis of its input may shrink; each output element is tracked as that
/// run-time dimension.</summary>
public sealed class ShapeRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } = ["Shape"];

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx)
    {
        var x = ctx.Input(0);
        var v = ctx.Node.Input(0)!;
        if (x.Shape is null) { ctx.SetOutput(0, ElementType.Int64, [Dim.Unknown]); return; }
        int r = x.Rank;
        long start = ctx.Node.Attributes.GetInt("start", 0), end = ctx.Node.Attributes.GetInt("end", r);
        if (start < 0) start += r;
        if (end < 0) end += r;
        start = Math.Clamp(start, 0, r);
        end = Math.Clamp(end, start, r);
        var elements = new List<TrackedElement>();
        for (long i = start; i < end; i++) elements.Add(new TrackedElement(x.Shape[(int)i].Value, DimValue: v, DimAxis: (int)i, Symbol: x.Shape[(int)i]));
        ctx.SetOutput(0, ElementType.Int64, [new Dim(elements.Count)], elements);
    }

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx) => ctx.AcknowledgeAll(ctx.In(0)!);
}
