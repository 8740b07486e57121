using System.Text.RegularExpressions;
using OnnxPrune.Graph;

namespace OnnxPrune.Analysis;

/// <summary>Two sizes that <paramref name="Node"/> needs equal (or, where it broadcasts, one of them 1), at least one
/// symbolic: e.g. an attention mask's <c>total</c> and the KV cache's <c>({past}+{seq})</c>. Found by
/// <see cref="ShapeInference"/> (<see cref="ShapeInfo.Ties"/>).</summary>
/// <param name="A">One size.</param>
/// <param name="B">The other.</param>
/// <param name="Node">The node where they meet.</param>
public sealed record DimTie(Dim A, Dim B, Node Node)
{
    /// <inheritdoc/>
    public override string ToString() => $"{A} = {B} ({Node.OpType} node {Node.DisplayName})";
}

/// <summary>Values for a model's symbolic input dims, and the relations they break.</summary>
/// <param name="Dims">Dim name → size, for every symbolic name of the data inputs (and the names it needed).</param>
/// <param name="Violations">Relations the values break, each naming both sides, their values and the node; empty when
/// the values are consistent.</param>
public sealed record DimChoice(IReadOnlyDictionary<string, long> Dims, IReadOnlyList<string> Violations);

/// <summary>
/// Picks sizes for the symbolic dims of a model's data inputs that satisfy the relations the shape engine found
/// (<see cref="ShapeInfo.Ties"/>), so random inputs (<c>prune --verify</c>) fit together: given sizes first, then each
/// free name takes its default (a leading dim the batch default, any other the other default) and every name tied to
/// something that is then known follows — directly (<c>total = ({past}+{seq})</c>) or by solving a tie that is
/// affine in one unknown name (<c>past = total − seq</c>). Names that are tied to an expression are defaulted last.
/// </summary>
public static partial class DimTies
{
    /// <summary>Chooses the sizes.</summary>
    /// <param name="graph">The model's graph.</param>
    /// <param name="shapes">Its shape facts (<see cref="ShapeInference.Infer"/>), whose ties are satisfied.</param>
    /// <param name="given">Sizes given by the user: by name, or by <c>INPUT:AXIS</c> (which then also names that axis's dim).</param>
    /// <param name="batchDefault">Default of a free dim that is the leading dim of an input.</param>
    /// <param name="otherDefault">Default of any other free dim.</param>
    public static DimChoice Choose(Graph.Graph graph, ShapeInfo shapes, IReadOnlyDictionary<string, long> given, long batchDefault, long otherDefault)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(shapes);
        ArgumentNullException.ThrowIfNull(given);
        var dims = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (k, v) in given) if (!k.Contains(':')) dims[k] = v;
        var free = new List<(string Name, long Default)>();
        foreach (var input in graph.DataInputs)
        {
            if (input.Shape is not { } shape) continue;
            for (int axis = 0; axis < shape.Count; axis++)
            {
                if (shape[axis].Param is not { Length: > 0 } name) continue;
                if (given.TryGetValue($"{input.Name}:{axis}", out var byAxis)) dims.TryAdd(name, byAxis);
                // A name written as arithmetic over others ("past + seq") is computed from them by whoever reads it.
                if (!name.Any(c => c is '+' or '-' or '*') && free.All(f => f.Name != name)) free.Add((name, axis == 0 ? batchDefault : otherDefault));
            }
        }
        var ties = shapes.Ties;
        var derived = ties.SelectMany(t => new[] { (t.A, t.B), (t.B, t.A) })
            .Where(p => p.Item1.Param is { } n && !DimExpression.IsExpression(n) && p.Item2.Param is { } e && DimExpression.IsExpression(e))
            .Select(p => p.Item1.Param!).ToHashSet(StringComparer.Ordinal);
        Propagate(ties, dims);
        foreach (var (name, fallback) in free.Where(f => !derived.Contains(f.Name)).Concat(free.Where(f => derived.Contains(f.Name))))
        {
            if (dims.ContainsKey(name)) continue;
            dims[name] = fallback;
            Propagate(ties, dims);
        }
        var violations = new List<string>();
        foreach (var t in ties)
            if (Eval(t.A, dims) is long a && Eval(t.B, dims) is long b && a != b && a != 1 && b != 1)
                violations.Add($"'{t.A}' = {a} and '{t.B}' = {b} must be equal ({t.Node.OpType} node {t.Node.DisplayName})");
        return new DimChoice(dims, violations.Distinct().ToArray());
    }

    /// <summary>
    /// Sizes for random inputs (<c>run --random</c>, <c>bench</c>): the given ones plus those of the tied symbolic input
    /// dims that the relations fix once every free dim takes <paramref name="defaultDim"/> (e.g. a mask's <c>total</c> =
    /// <c>past + seq</c> = 2 at the default 1). Free dims stay out of the result, so the caller still defaults and reports
    /// them. <see cref="DimChoice.Violations"/> lists the relations the sizes break (given ones that do not fit).
    /// </summary>
    public static DimChoice ForRandomInputs(OnnxModel model, IReadOnlyDictionary<string, long> given, long defaultDim = 1)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(given);
        var dims = new Dictionary<string, long>(given, StringComparer.Ordinal);
        var shapes = ShapeInference.Infer(model.Graph, model.GetOpset(""));
        if (shapes.Ties.Count == 0) return new DimChoice(dims, []);
        var choice = Choose(model.Graph, shapes, given, defaultDim, defaultDim);
        var tied = shapes.Ties.SelectMany(t => Names(t.A).Concat(Names(t.B))).ToHashSet(StringComparer.Ordinal);
        foreach (var (name, value) in choice.Dims)
            if (tied.Contains(name) && value != defaultDim) dims.TryAdd(name, value);
        return new DimChoice(dims, choice.Violations);
    }

    /// <summary>Every name a dim mentions (a plain name, or the names in braces of an expression).</summary>
    public static IEnumerable<string> Names(Dim d)
    {
        if (d.Param is not { } p) yield break;
        if (!DimExpression.IsExpression(p)) { yield return p; yield break; }
        foreach (Match m in NameInBraces().Matches(p)) yield return m.Groups[1].Value;
    }

    private static long? Eval(Dim d, IReadOnlyDictionary<string, long> dims) =>
        d.Value ?? (d.Param is { } p ? DimExpression.Evaluate(p, dims) : null);

    // Binds names that ties determine, until nothing changes.
    private static void Propagate(IReadOnlyList<DimTie> ties, Dictionary<string, long> dims)
    {
        for (bool changed = true; changed;)
        {
            changed = false;
            foreach (var t in ties)
                foreach (var (known, other) in new[] { (t.A, t.B), (t.B, t.A) })
                {
                    if (Eval(known, dims) is not long v || v <= 0 || Eval(other, dims) is not null) continue;
                    var unbound = Names(other).Where(n => !dims.ContainsKey(n)).Distinct().ToList();
                    if (unbound.Count != 1 || Solve(other, unbound[0], v, dims) is not long x) continue;
                    dims[unbound[0]] = x;
                    changed = true;
                }
        }
    }

    // The positive x with other(name = x) = target when other is affine in name (checked by evaluating), else null.
    private static long? Solve(Dim other, string name, long target, Dictionary<string, long> dims)
    {
        long? At(long x)
        {
            dims[name] = x;
            try { return Eval(other, dims); }
            finally { dims.Remove(name); }
        }
        if (At(0) is not long f0 || At(1) is not long f1 || f1 == f0 || (target - f0) % (f1 - f0) != 0) return null;
        long guess = (target - f0) / (f1 - f0);
        return guess > 0 && At(guess) == target ? guess : null;
    }

    [GeneratedRegex(@"\{([^{}]*)\}")]
    private static partial Regex NameInBraces();
}
