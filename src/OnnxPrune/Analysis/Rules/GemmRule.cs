using OnnxPrune.Graph;

namespace OnnxPrune.Analysis.Rules;

/// <summary>Gemm: Y[M,N] = A[M,K]·B[K,N] (+C), with transA/transB. With a constant B, output features are a source;
/// the contraction axis couples A's columns to B's rows; C broadcasts onto Y.</summary>
public sealed class GemmRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } = ["Gemm"];

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx)
    {
        var (a, b) = (ctx.Input(0), ctx.Input(1));
        if (a.Rank != 2 || b.Rank != 2) { ctx.SetOutput(0, a.ElementType, null); return; }
        bool ta = ctx.Node.Attributes.GetInt("transA", 0) != 0, tb = ctx.Node.Attributes.GetInt("transB", 0) != 0;
        ctx.SetOutput(0, a.ElementType, [a.Shape![ta ? 1 : 0], b.Shape![tb ? 0 : 1]]);
    }

    /// <summary>MACs: <c>M·K·N</c> (transA/transB respected).</summary>
    public override long? Macs(MacContext ctx)
    {
        if (ctx.Input(0) is not { Length: 2 } x || ctx.Input(1) is not { Length: 2 } w) return null;
        bool ta = ctx.Node.Attributes.GetInt("transA", 0) != 0, tb = ctx.Node.Attributes.GetInt("transB", 0) != 0;
        return checked((ta ? x[1] : x[0]) * (ta ? x[0] : x[1]) * (tb ? w[0] : w[1]));
    }

    /// <inheritdoc/>
    public override IReadOnlyList<int> MacWeightInputs { get; } = [0, 1];

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        var (a, b, c, y) = (ctx.In(0)!, ctx.In(1)!, ctx.In(2), ctx.Out(0)!);
        bool ta = ctx.Node.Attributes.GetInt("transA", 0) != 0, tb = ctx.Node.Attributes.GetInt("transB", 0) != 0;
        int aM = ta ? 1 : 0, aK = ta ? 0 : 1, bK = tb ? 1 : 0, bN = tb ? 0 : 1;
        ctx.Same(a, aM, y, 0);
        ctx.Same(a, aK, b, bK);
        ctx.Same(b, bN, y, 1);
        if (b.Constant is not null)
        {
            ctx.Source(y, 1, GroupKind.Features);
            ctx.Scored(b, bN);
            ctx.Scored(b, bK);
        }
        if (c is not null) RuleHelpers.CoupleBroadcast(ctx, c, y);
    }
}
