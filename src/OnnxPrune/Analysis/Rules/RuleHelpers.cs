using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Analysis.Rules;

/// <summary>Shape arithmetic shared by rules.</summary>
internal static class RuleHelpers
{
    /// <summary>Numpy-style broadcast of several shapes; null when a rank is unknown or sizes conflict.</summary>
    public static Dim[]? Broadcast(IEnumerable<IReadOnlyList<Dim>?> shapes) => Broadcast(shapes, null);

    /// <summary>Same; <paramref name="tie"/> receives each pair of different, non-1 sizes that meet on one axis with at
    /// least one symbolic (at run time they are equal, or one of them is 1).</summary>
    public static Dim[]? Broadcast(IEnumerable<IReadOnlyList<Dim>?> shapes, Action<Dim, Dim>? tie)
    {
        var list = shapes.ToList();
        if (list.Any(s => s is null)) return null;
        int r = list.Max(s => s!.Count);
        var result = new Dim[r];
        for (int i = 0; i < r; i++)
        {
            Dim acc = new(1);
            bool any = false;
            foreach (var s in list)
            {
                int j = i - (r - s!.Count);
                if (j < 0) continue;
                var d = s[j];
                if (!any) { acc = d; any = true; continue; }
                if (d.Value == 1) continue;
                if (acc.Value == 1) { acc = d; continue; }
                if (tie is not null && !(d.IsKnown && acc.IsKnown) && d != acc && (d.Param is not null || acc.Param is not null)) tie(acc, d);
                if (d.IsKnown && acc.IsKnown && d.Value != acc.Value) return null;
                if (!acc.IsKnown && d.IsKnown) acc = d;
                else if (!acc.IsKnown && !d.IsKnown && acc.Param != d.Param) acc = Dim.Unknown;
            }
            result[i] = acc;
        }
        return result;
    }

    /// <summary>Spatial output size of a sliding window (Conv, pooling), or unknown.</summary>
    /// <remarks>Explicit pads: <c>⌊(n + pb + pe − eff) / s⌋ + 1</c>, or with <paramref name="ceil"/> <c>⌈…⌉ + 1</c> less
    /// one when the last window would start inside the end padding (ONNX's pooling rule, which ONNX Runtime applies:
    /// <c>(out − 1)·s ≥ n + pb</c>); <c>eff = d·(k − 1) + 1</c>. SAME: <c>⌈n / s⌉</c>; VALID: <c>⌊(n − eff) / s⌋ + 1</c>.</remarks>
    public static Dim Window(Dim input, long kernel, long stride, long dilation, long padBegin, long padEnd, string autoPad, bool ceil = false)
    {
        long eff = dilation * (kernel - 1) + 1;
        if (input.Value is not long n)
        {
            // A symbolic size gives an expression dim (DimExpression), so equal computations pair up downstream.
            if (input.Param is null || stride <= 0) return Dim.Unknown;
            return autoPad switch
            {
                "SAME_UPPER" or "SAME_LOWER" => DimExpression.FloorDiv(DimExpression.Add(input, stride - 1), stride),
                "VALID" => DimExpression.Add(DimExpression.FloorDiv(DimExpression.Add(input, -eff), stride), 1),
                _ when ceil => Dim.Unknown,
                _ => DimExpression.Add(DimExpression.FloorDiv(DimExpression.Add(input, padBegin + padEnd - eff), stride), 1),
            };
        }
        return autoPad switch
        {
            "SAME_UPPER" or "SAME_LOWER" => new Dim((n + stride - 1) / stride),
            "VALID" => new Dim((n - eff) / stride + 1),
            _ => new Dim(ceil ? CeilWindows(n, eff, stride, padBegin, padEnd) : (n + padBegin + padEnd - eff) / stride + 1),
        };
    }

    private static long CeilWindows(long n, long eff, long stride, long padBegin, long padEnd)
    {
        long span = n + padBegin + padEnd - eff;
        long count = (span + stride - 1) / stride + 1;
        if ((count - 1) * stride >= n + padBegin) count--; // a last window starting in the end padding is dropped
        return count;
    }

    /// <summary>An integer list attribute, or the known values of input <paramref name="input"/> (opset-dependent forms).</summary>
    public static long[]? IntsFromAttributeOrInput(ShapeContext ctx, string attribute, int input) =>
        ctx.Node.Attributes.GetInts(attribute) ?? (ctx.Node.Input(input) is not null ? ctx.InputValues(input) : null);

    /// <summary>Same, for coupling rules.</summary>
    public static long[]? IntsFromAttributeOrInput(CouplingContext ctx, string attribute, int input) =>
        ctx.Node.Attributes.GetInts(attribute) ?? (ctx.In(input) is { } v ? ctx.Info(v).KnownValues : null);

    /// <summary>Normalizes an axis against a rank; throws when out of range.</summary>
    public static int Axis(long axis, int rank)
    {
        var a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) throw new ArgumentOutOfRangeException(nameof(axis), $"Axis {axis} is out of range for rank {rank}.");
        return (int)a;
    }

    /// <summary>Acknowledges every axis of the node's inputs from index <paramref name="from"/> (constant operands such as shapes).</summary>
    public static void AcknowledgeInputs(CouplingContext ctx, int from)
    {
        for (int i = from; i < ctx.Node.Inputs.Count; i++) if (ctx.In(i) is { } v) ctx.AcknowledgeAll(v);
    }

    /// <summary>Couples the axes of an elementwise node's inputs to its output with broadcasting: equal sizes couple,
    /// size-1 axes that broadcast are acknowledged.</summary>
    public static void CoupleBroadcast(CouplingContext ctx, Value input, Value output)
    {
        int ri = ctx.Rank(input), ro = ctx.Rank(output);
        if (ri < 0 || ro < 0 || ri > ro)
        {
            ctx.OpaqueValue(input, $"{ctx.Where}: rank of '{input.Name}' unknown");
            ctx.OpaqueValue(output, $"{ctx.Where}: rank of '{output.Name}' unknown");
            return;
        }
        for (int i = 0; i < ri; i++)
        {
            int o = i + (ro - ri);
            var si = ctx.Size(input, i);
            var so = ctx.Size(output, o);
            if (si == 1 && so != 1) ctx.Acknowledge(input, i);
            else ctx.Same(input, i, output, o);
        }
    }

    /// <summary>Elementwise shape inference: broadcast of all inputs, element type of input <paramref name="typeFrom"/>.</summary>
    public static void InferBroadcast(ShapeContext ctx, int typeFrom = 0, ElementType? type = null)
    {
        var inputs = Enumerable.Range(0, ctx.InputCount).Where(i => ctx.Node.Input(i) is not null).Select(ctx.Input).ToList();
        var shape = Broadcast(inputs.Select(i => i.Shape), ctx.Tie);
        ctx.SetOutput(0, type ?? ctx.Input(typeFrom).ElementType, shape);
    }
}
