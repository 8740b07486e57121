using OnnxPrune.Graph;

namespace OnnxPrune.Analysis.Rules;

/// <summary>Global pooling: batch and channel axes couple; spatial axes reduce to 1 within each channel.</summary>
public sealed class GlobalPoolRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } = ["GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"];

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx)
    {
        var x = ctx.Input(0);
        if (x.Shape is null || x.Rank < 2) { ctx.SetOutput(0, x.ElementType, null); return; }
        ctx.SetOutput(0, x.ElementType, x.Shape.Select((d, i) => i < 2 ? d : new Dim(1)).ToArray());
    }

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        var (x, y) = (ctx.In(0)!, ctx.Out(0)!);
        ctx.Same(x, 0, y, 0);
        ctx.Same(x, 1, y, 1);
        for (int i = 2; i < ctx.Rank(x); i++) { ctx.Acknowledge(x, i); ctx.Acknowledge(y, i); }
    }
}
