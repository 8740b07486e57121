using OnnxPrune.Graph;

namespace OnnxPrune.Analysis.Rules;

/// <summary>MatMul: [..., M, K]·[..., K, N]. K couples across the operands, M and N to the output, batch axes
/// broadcast. With a constant 2-D right operand the output features are a source (a constant 2-D left operand
/// makes the rows one).</summary>
public sealed class MatMulRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } = ["MatMul"];

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx)
    {
        var (a, b) = (ctx.Input(0), ctx.Input(1));
        if (a.Rank < 2 || b.Rank < 2) { ctx.SetOutput(0, a.ElementType, null); return; }
        var batch = RuleHelpers.Broadcast([a.Shape!.Take(a.Rank - 2).ToArray(), b.Shape!.Take(b.Rank - 2).ToArray()], ctx.Tie);
        ctx.Tie(a.Shape![^1], b.Shape![^2]); // the contracted sizes are equal
        if (batch is null) { ctx.SetOutput(0, a.ElementType, null); return; }
        ctx.SetOutput(0, a.ElementType, [.. batch, a.Shape![^2], b.Shape![^1]]);
    }

    /// <summary>MACs: <c>numel(Y)·K</c> (batched, broadcast), K from A's last dim, or from B (its second-to-last
    /// dim; its only dim when 1-D).</summary>
    public override long? Macs(MacContext ctx)
    {
        var (x, w) = (ctx.Input(0), ctx.Input(1));
        long? k = x is { Length: > 0 } ? x[^1] : w is { Length: >= 2 } ? w[^2] : w is { Length: 1 } ? w[0] : null;
        return ctx.Output(0) is { } y && k is long kk ? checked(MacContext.Product(y) * kk) : null;
    }

    /// <inheritdoc/>
    public override IReadOnlyList<int> MacWeightInputs { get; } = [0, 1];

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        var (a, b, y) = (ctx.In(0)!, ctx.In(1)!, ctx.Out(0)!);
        int ra = ctx.Rank(a), rb = ctx.Rank(b), ry = ctx.Rank(y);
        if (ra < 2 || rb < 2 || ry < 2)
        {
            var reason = $"{ctx.Where}: 1-D or unknown-rank operands are not supported";
            ctx.OpaqueValue(a, reason); ctx.OpaqueValue(b, reason); ctx.OpaqueValue(y, reason);
            return;
        }
        ctx.Same(a, ra - 1, b, rb - 2);
        ctx.Same(a, ra - 2, y, ry - 2);
        ctx.Same(b, rb - 1, y, ry - 1);
        foreach (var (v, r) in new[] { (a, ra), (b, rb) })
        {
            for (int i = 0; i < r - 2; i++)
            {
                int o = i + (ry - r);
                if (ctx.Size(v, i) == 1 && ctx.Size(y, o) != 1) ctx.Acknowledge(v, i);
                else ctx.Same(v, i, y, o);
            }
        }
        if (b.Constant is not null && rb == 2)
        {
            ctx.Source(y, ry - 1, GroupKind.Features);
            ctx.Scored(b, 0);
            ctx.Scored(b, 1);
        }
        else if (a.Constant is not null && ra == 2)
        {
            ctx.Source(y, ry - 2, GroupKind.Features);
            ctx.Scored(a, 0);
            ctx.Scored(a, 1);
        }
    }
}
