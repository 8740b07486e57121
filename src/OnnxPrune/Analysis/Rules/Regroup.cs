using OnnxPrune.Graph;

namespace OnnxPrune.Analysis.Rules;

/// <summary>
/// How a Reshape/Flatten regroups axes: the input and output axes are cut into segments of equal element count.
/// A 1:1 segment couples its axes; a split (1 input axis → several) couples the input axis to the outer output
/// axis with a block map (e.g. heads·dim → heads); a merge couples the outer input axis to the output axis with a
/// block map (channel → flattened columns). Inner axes of splits and merges never carry units.
/// </summary>
internal static class Regroup
{
    public sealed record Segment(int[] In, int[] Out);

    /// <summary>Cuts the shapes into segments; unknown dims must pair 1:1 (<paramref name="pairs"/> says whether input axis i
    /// and output axis j are the same run-time size). Null when no consistent cut exists.</summary>
    public static List<Segment>? Cut(IReadOnlyList<Dim> input, IReadOnlyList<Dim> output, Func<int, int, bool> pairs)
    {
        var segments = new List<Segment>();
        int i = 0, j = 0;
        while (i < input.Count || j < output.Count)
        {
            if (i < input.Count && input[i].Value == 1) { segments.Add(new([i], [])); i++; continue; }
            if (j < output.Count && output[j].Value == 1) { segments.Add(new([], [j])); j++; continue; }
            if (i >= input.Count || j >= output.Count) return null;
            if (!input[i].IsKnown || !output[j].IsKnown)
            {
                if (!input[i].IsKnown && !output[j].IsKnown && pairs(i, j)) { segments.Add(new([i], [j])); i++; j++; continue; }
                // A symbolic merge or split (e.g. [B, T, C] → [B·T, C] around a Gemm and back): the product of consecutive
                // dims on one side equals the expression dim on the other (DimExpression's canonical form).
                if (SymbolicRun(input, i, output[j]) is int ie) { segments.Add(new(Enumerable.Range(i, ie - i + 1).ToArray(), [j])); i = ie + 1; j++; continue; }
                if (SymbolicRun(output, j, input[i]) is int je) { segments.Add(new([i], Enumerable.Range(j, je - j + 1).ToArray())); i++; j = je + 1; continue; }
                return null;
            }
            var ins = new List<int> { i };
            var outs = new List<int> { j };
            long pi = input[i++].Value!.Value, pj = output[j++].Value!.Value;
            while (pi != pj)
            {
                if (pi < pj)
                {
                    if (i >= input.Count || !input[i].IsKnown) return null;
                    pi *= input[i].Value!.Value; ins.Add(i++);
                }
                else
                {
                    if (j >= output.Count || !output[j].IsKnown) return null;
                    pj *= output[j].Value!.Value; outs.Add(j++);
                }
            }
            // Trailing size-1 axes stay in their own segments.
            segments.Add(new(ins.ToArray(), outs.ToArray()));
        }
        return segments;
    }

    // The last index k ≥ start + 1 such that dims[start..k] multiply to the symbolic dim target, or null.
    private static int? SymbolicRun(IReadOnlyList<Dim> dims, int start, Dim target)
    {
        if (target.IsKnown || target.Param is null) return null;
        var acc = dims[start];
        for (int k = start + 1; k < dims.Count; k++)
        {
            acc = DimExpression.Mul(acc, dims[k]);
            if (!acc.IsKnown && acc.Param is null) return null;
            if (acc.Param == target.Param) return k;
        }
        return null;
    }

    // Megatron's fused QKV lays its rows out per head, [heads, 3 (or 2), dim]; timm's and paddle2onnx's as [3, heads, dim].
    // When both leading sizes could be the parts (2 or 3 heads), the axis the parts are taken apart on downstream decides.
    private static bool PerHeadParts(CouplingContext ctx, Value y, int[] outs) =>
        ctx.Size(y, outs[1]) is 2 or 3 && PartsAxis(ctx, y, 0) == outs[1];

    // The axis of v that a Gather, Split or Slice separates parts on, following Transposes; null when none is found.
    private static int? PartsAxis(CouplingContext ctx, Value v, int depth)
    {
        if (depth > 4) return null;
        foreach (var c in v.Consumers)
        {
            int r = ctx.Rank(v);
            if (r < 0) return null;
            switch (c.OpType)
            {
                case "Transpose" when c.Attributes.GetInts("perm") is { } perm && perm.Length == r && c.Output(0) is { } t:
                    if (PartsAxis(ctx, t, depth + 1) is int k) return (int)perm[k];
                    break;
                case "Gather" or "Split" when c.Input(0) == v:
                    return RuleHelpers.Axis(c.Attributes.GetInt("axis", 0), r);
                case "Slice" when c.Input(0) == v && c.Input(3) is { } axes && ctx.Info(axes).KnownValues is [var a]:
                    return RuleHelpers.Axis(a, r);
            }
        }
        return null;
    }

    /// <summary>Declares the couplings of the segments. <paramref name="outputElement"/> handles the output axis of a
    /// segment whose size changes with pruning (target-shape rewrites), given that axis and the segment's (outer) input
    /// axis; it returns null when the size follows, else the reason it cannot. <paramref name="innerElement"/>, when given,
    /// handles each inner output axis of a split (whose size must not change), given that axis, the input axis and the
    /// split's outer output axis.</summary>
    public static void Couple(CouplingContext ctx, Value x, Value y, List<Segment> segments, Func<int, int, string?> outputElement,
        Action<int, int, int>? innerElement = null)
    {
        void Output(int j, int i)
        {
            if (outputElement(j, i) is { } reason) ctx.Opaque(y, j, reason);
        }
        foreach (var s in segments)
        {
            var ins = s.In.Where(a => ctx.Size(x, a) != 1).ToArray();
            var outs = s.Out.Where(a => ctx.Size(y, a) != 1).ToArray();
            foreach (var a in s.In.Except(ins)) ctx.Acknowledge(x, a);
            foreach (var a in s.Out.Except(outs)) ctx.Acknowledge(y, a);
            if (ins.Length == 0 && outs.Length == 0) continue;
            if ((ins.Length > 1 || outs.Length > 1) && (ins.Any(a => ctx.Size(x, a) is null) || outs.Any(a => ctx.Size(y, a) is null)))
            {
                // A merge/split of symbolic dims (batch·tokens): such axes carry no units; their target elements follow the
                // run-time sizes or are -1 (the Cut checked the product).
                foreach (var a in ins) ctx.Acknowledge(x, a);
                foreach (var a in outs) ctx.Acknowledge(y, a);
                continue;
            }
            if (ins.Length == 1 && outs.Length == 1)
            {
                ctx.Same(x, ins[0], y, outs[0]);
                Output(outs[0], ins[0]);
            }
            else if (ins.Length == 1 && outs.Length >= 3 && ctx.Size(y, outs[0]) is 2 or 3 && outs.All(a => ctx.Size(y, a) is not null) && !PerHeadParts(ctx, y, outs))
            {
                // Fused projections split as [.., 3 (q/k/v) or 2 (k/v), heads, head dim]: the units are the heads (the
                // middle axis); position p of the input axis belongs to head (p / inner) mod heads, in every part.
                int m = outs[1];
                long heads = ctx.Size(y, m)!.Value;
                long inner = outs.Skip(2).Aggregate(1L, (p, a) => p * ctx.Size(y, a)!.Value);
                long total = ctx.Size(x, ins[0])!.Value;
                for (long p = 0; p < total; p++) ctx.Couple(y, m, p / inner % heads, x, ins[0], p);
                Output(m, ins[0]);
                foreach (var a in outs.Where(a => a != m))
                {
                    ctx.Opaque(y, a, a == outs[0] ? $"{ctx.Where}: axis {a} separates the fused parts" : $"{ctx.Where}: axis {a} is an inner axis of a split");
                    innerElement?.Invoke(a, ins[0], m);
                }
            }
            else if (ins.Length == 1)
            {
                long inner = outs.Skip(1).Aggregate(1L, (p, a) => p * ctx.Size(y, a)!.Value);
                ctx.Block(y, outs[0], x, ins[0], inner);
                Output(outs[0], ins[0]);
                foreach (var a in outs.Skip(1))
                {
                    ctx.Opaque(y, a, $"{ctx.Where}: axis {a} is an inner axis of a split");
                    innerElement?.Invoke(a, ins[0], outs[0]);
                }
            }
            else if (outs.Length == 1)
            {
                long inner = ins.Skip(1).Aggregate(1L, (p, a) => p * ctx.Size(x, a)!.Value);
                ctx.Block(x, ins[0], y, outs[0], inner);
                Output(outs[0], ins[0]);
                foreach (var a in ins.Skip(1)) ctx.Opaque(x, a, $"{ctx.Where}: axis {a} is an inner axis of a merge");
            }
            else
            {
                var reason = $"{ctx.Where} regroups axes [{string.Join(",", ins)}] into [{string.Join(",", outs)}]";
                foreach (var a in ins) ctx.Opaque(x, a, reason);
                foreach (var a in outs) ctx.Opaque(y, a, reason);
            }
        }
    }
}
