namespace OnnxPrune.Graph;

/// <summary>One use of a value found by <see cref="ReorderOnly.UsesThrough"/>.</summary>
/// <param name="Consumer">The node reading <paramref name="Value"/>, or null when <paramref name="Value"/> is a graph output.</param>
/// <param name="InputIndex">The input slot of <paramref name="Consumer"/> (−1 for a graph output).</param>
/// <param name="Value">The value read: the start value or one derived from it through reorder-only ops.</param>
public readonly record struct ValueUse(Node? Consumer, int InputIndex, Value Value)
{
    /// <summary>True when the use is a graph output rather than a node input.</summary>
    public bool IsGraphOutput => Consumer is null;
}

/// <summary>
/// Follows a value through ops that only move its elements (reshape, transpose, squeeze, cast…) to the uses that
/// actually read it. Shared by the cost model (which counted node reads a weight), the masked reference (does a
/// constant end in a divisor) and the analyser (does a shape constant escape its group).
/// </summary>
public static class ReorderOnly
{
    /// <summary>Default-domain ops whose output elements are elements of input 0, moved, dropped or repeated, each
    /// possibly converted on its own (Cast, DequantizeLinear): a kept fraction of input 0 is a kept fraction of the
    /// output, and a zero (or one) stays at its element.</summary>
    public static IReadOnlySet<string> OpTypes { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "Reshape", "Transpose", "Identity", "Cast", "Squeeze", "Unsqueeze", "Flatten", "Expand", "Dropout", "DequantizeLinear",
    };

    /// <summary>True when input <paramref name="inputIndex"/> of <paramref name="node"/> is the data input of a
    /// reorder-only op (see <see cref="OpTypes"/>).</summary>
    public static bool PassesThrough(Node node, int inputIndex)
    {
        ArgumentNullException.ThrowIfNull(node);
        return inputIndex == 0 && node.IsStandard && OpTypes.Contains(node.OpType) && node.Output(0) is not null;
    }

    /// <summary>
    /// Every use of <paramref name="value"/>, looking through reorder-only ops: a consumer slot for which
    /// <paramref name="passThrough"/> holds is not reported, its output 0 is followed instead. Graph outputs reached
    /// after at least one pass-through are reported with a null consumer. Each value is visited once (no cycles).
    /// </summary>
    /// <param name="value">The start value.</param>
    /// <param name="passThrough">Which (node, input index) to look through; default <see cref="PassesThrough"/>.
    /// A caller may widen it (e.g. Concat for shape tensors) or narrow it (stop at nodes it owns).</param>
    public static IEnumerable<ValueUse> UsesThrough(Value value, Func<Node, int, bool>? passThrough = null)
    {
        ArgumentNullException.ThrowIfNull(value);
        passThrough ??= PassesThrough;
        var seen = new HashSet<Value>(ReferenceEqualityComparer.Instance) { value };
        var pending = new Queue<Value>([value]);
        while (pending.Count > 0)
        {
            var v = pending.Dequeue();
            if (v != value && v.IsGraphOutput) yield return new ValueUse(null, -1, v);
            foreach (var node in v.Consumers.Distinct())
                for (int i = 0; i < node.Inputs.Count; i++)
                {
                    if (node.Input(i) != v) continue;
                    if (passThrough(node, i))
                    {
                        if (node.Output(0) is { } o && seen.Add(o)) pending.Enqueue(o);
                    }
                    else yield return new ValueUse(node, i, v);
                }
        }
    }
}
