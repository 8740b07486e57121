using OnnxPrune.Graph;

namespace OnnxPrune.Analysis.Rules;

/// <summary>Concat: input k's units sit at an offset in the output's concat axis; other axes couple. Concatenated
/// small integer vectors (shapes) keep their tracked elements.</summary>
public sealed class ConcatRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } = ["Concat"];

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx)
    {
        var inputs = Enumerable.Range(0, ctx.InputCount).Select(ctx.Input).ToList();
        var first = inputs[0];
        var known = inputs.Where(i => i.Shape is not null).ToList();
        if (known.Count == 0 || known.Any(i => i.Rank != known[0].Rank) || known[0].Rank < 1) { ctx.SetOutput(0, first.ElementType, null); return; }
        if (known.Count < inputs.Count)
        {
            // An input of unknown shape (an op without a shape rule): the rank and the other axes still follow from the rest.
            int a = RuleHelpers.Axis(ctx.Node.Attributes.GetInt("axis", 0), known[0].Rank);
            var partial = known[0].Shape!.ToArray();
            partial[a] = Dim.Unknown;
            for (int d = 0; d < partial.Length; d++)
                if (d != a && !partial[d].IsKnown) partial[d] = known.Select(i => i.Shape![d]).FirstOrDefault(x => x.IsKnown, partial[d]);
            ctx.SetOutput(0, known.Select(i => i.ElementType).FirstOrDefault(t => t != Tensors.ElementType.Undefined), partial);
            return;
        }
        int axis = RuleHelpers.Axis(ctx.Node.Attributes.GetInt("axis", 0), first.Rank);
        var shape = first.Shape!.ToArray();
        long? total = 0;
        foreach (var i in inputs) total = total is long t && i.Shape![axis].Value is long n ? t + n : null;
        shape[axis] = total is long tt ? new Dim(tt) : inputs.Aggregate(new Dim(0), (acc, i) => DimExpression.Add(acc, i.Shape![axis])); // symbolic: ({past}+{seq})
        for (int d = 0; d < shape.Length; d++)
        {
            if (d == axis) continue;
            foreach (var i in inputs.Skip(1)) ctx.Tie(first.Shape![d], i.Shape![d]); // the other axes are equal
            if (!shape[d].IsKnown) shape[d] = inputs.Select(i => i.Shape![d]).FirstOrDefault(x => x.IsKnown, shape[d]);
        }
        IReadOnlyList<TrackedElement>? elements = null;
        if (first.Rank == 1 && inputs.All(i => i.Elements is not null))
        {
            var all = inputs.SelectMany(i => i.Elements!).ToArray();
            if (all.Length <= TensorInfo.MaxTrackedElements) elements = all;
        }
        ctx.SetOutput(0, first.ElementType, shape, elements);
    }

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        var y = ctx.Out(0)!;
        int r = ctx.Rank(y);
        if (r < 1) { foreach (var x in ctx.Node.Inputs) if (x is not null) ctx.OpaqueValue(x, $"{ctx.Where}: rank unknown"); ctx.OpaqueValue(y, $"{ctx.Where}: rank unknown"); return; }
        int axis = RuleHelpers.Axis(ctx.Node.Attributes.GetInt("axis", 0), r);
        long? offset = 0;
        foreach (var x in ctx.Node.Inputs)
        {
            if (x is null) continue;
            for (int d = 0; d < r; d++) if (d != axis) ctx.Same(x, d, y, d);
            if (offset is long o && ctx.Size(x, axis) is long n) { ctx.Offset(x, axis, y, axis, o); offset = o + n; }
            else
            {
                offset = null;
                ctx.Opaque(x, axis, $"{ctx.Where}: concat offsets unknown");
                ctx.Opaque(y, axis, $"{ctx.Where}: concat offsets unknown");
            }
        }
    }
}
