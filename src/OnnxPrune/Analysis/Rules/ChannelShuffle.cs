using OnnxPrune.Graph;

namespace OnnxPrune.Analysis.Rules;

/// <summary>
/// Channel shuffle (ShuffleNet): Reshape [.., C, ..] → [.., g, C/g, ..] → Transpose swapping those two axes → Reshape
/// back to [.., C, ..]. Output channel <c>c·g + i</c> is input channel <c>i·(C/g) + c</c>. The reshapes split
/// the channel axis into a group axis, which the generic regroup cannot carry units through; here a unit is one
/// index <c>c</c> in every shuffle group (input channels <c>i·(C/g) + c</c> for all i, output channels
/// <c>c·g .. c·g + g − 1</c>), so every shuffle group keeps the same channels and the permutation stays exact after
/// pruning. The first Reshape's C/g and the last one's C are rewritten (factors 1 and g).
/// </summary>
internal static class ChannelShuffle
{
    private sealed record Match(Node Split, Node Transpose, Node Merge, int Axis, long Groups, long PerGroup);

    private static Match? Find(CouplingContext ctx, Node split)
    {
        if (split.OpType != "Reshape" || split.Input(0) is not { } x || split.Output(0) is not { } y1) return null;
        if (ctx.Info(x).Shape is not { } xs || ctx.Info(y1).Shape is not { } ys || ys.Count != xs.Count + 1) return null;
        if (y1.Consumers.Count != 1 || y1.Consumers[0] is not { OpType: "Transpose" } t || y1.IsGraphOutput) return null;
        if (t.Output(0) is not { } y2 || y2.IsGraphOutput || y2.Consumers.Count != 1 || y2.Consumers[0] is not { OpType: "Reshape" } merge) return null;
        if (merge.Input(0) != y2 || merge.Output(0) is not { } y || ctx.Info(y).Shape is not { } outs || outs.Count != xs.Count) return null;
        var perm = t.Attributes.GetInts("perm");
        if (perm is null || perm.Length != ys.Count) return null;
        for (int a = 0; a < xs.Count; a++)
        {
            if (xs[a].Value is not long c || ys[a].Value is not long g || ys[a + 1].Value is not long cg || g * cg != c || g < 2 || cg < 1) continue;
            if (outs[a].Value != c) continue;
            bool same = true;
            for (int i = 0; i < xs.Count && same; i++)
                if (i != a) same = xs[i] == ys[i < a ? i : i + 1] && xs[i] == outs[i];
            bool swap = true;
            for (int i = 0; i < perm.Length && swap; i++)
                swap = perm[i] == (i == a ? a + 1 : i == a + 1 ? a : i);
            if (same && swap) return new Match(split, t, merge, a, g, cg);
        }
        return null;
    }

    /// <summary>Couples the node when it is the first or last Reshape of a channel shuffle; false otherwise.</summary>
    public static bool TryCouple(CouplingContext ctx, IReadOnlyList<TrackedElement>? elements, bool allowZero)
    {
        var node = ctx.Node;
        Match? m = Find(ctx, node);
        bool first = m is not null;
        if (m is null && node.Input(0)?.Producer is { OpType: "Transpose" } t && t.Input(0)?.Producer is { } split)
        {
            m = Find(ctx, split);
            if (m is not null && m.Merge != node) m = null;
        }
        if (m is null || elements is null) return false;
        var (x, y) = (node.Input(0)!, node.Output(0)!);
        int a = m.Axis, rank = ctx.Rank(first ? x : y);
        bool Rewrite(int j)
        {
            var e = elements[j];
            if (e.Value == -1 || (e.Value == 0 && !allowZero)) return true;
            if (e.Constant is { } c) { ctx.ShapeElement(y, j, c, e.ConstantIndex); return true; }
            return e.FollowsDims;
        }
        if (elements.Count != ctx.Rank(y)) return false;
        for (int i = 0; i < rank; i++)
        {
            if (i == a) continue;
            if (first) ctx.Same(x, i, y, i < a ? i : i + 1);
            else ctx.Same(x, i < a ? i : i + 1, y, i);
        }
        string reason = $"{ctx.Where}: channel shuffle target size is computed at run time in a way that cannot be mapped";
        if (first)
        {
            // Input channel p = i·(C/g) + c → position c of the per-group axis.
            for (long p = 0; p < m.Groups * m.PerGroup; p++) ctx.Couple(y, a + 1, p % m.PerGroup, x, a, p);
            ctx.Acknowledge(y, a);
            if (!Rewrite(a + 1)) ctx.Opaque(y, a + 1, reason);
        }
        else
        {
            // Position c of the per-group axis → output channels c·g + i.
            for (long c = 0; c < m.PerGroup; c++)
                for (long i = 0; i < m.Groups; i++) ctx.Couple(x, a, c, y, a, c * m.Groups + i);
            ctx.Acknowledge(x, a + 1);
            if (!Rewrite(a)) ctx.Opaque(y, a, reason);
        }
        return true;
    }
}
