using OnnxPrune.Graph;

namespace OnnxPrune.Analysis.Rules;

/// <summary>Transpose: output axis i is input axis perm[i].</summary>
public sealed class TransposeRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } = ["Transpose"];

    private static long[] Perm(Node node, int rank) =>
        node.Attributes.GetInts("perm") ?? Enumerable.Range(0, rank).Reverse().Select(i => (long)i).ToArray();

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx)
    {
        var x = ctx.Input(0);
        if (x.Shape is null) { ctx.SetOutput(0, x.ElementType, null); return; }
        var perm = Perm(ctx.Node, x.Rank);
        ctx.SetOutput(0, x.ElementType, perm.Select(p => x.Shape[(int)p]).ToArray());
    }

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        var (x, y) = (ctx.In(0)!, ctx.Out(0)!);
        int r = ctx.Rank(x);
        if (r < 0) { ctx.OpaqueValue(x, $"{ctx.Where}: rank unknown"); ctx.OpaqueValue(y, $"{ctx.Where}: rank unknown"); return; }
        var perm = Perm(ctx.Node, r);
        for (int i = 0; i < perm.Length; i++) ctx.Same(x, (int)perm[i], y, i);
    }
}
