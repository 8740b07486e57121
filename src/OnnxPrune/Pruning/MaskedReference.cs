using OnnxPrune.Analysis;
using OnnxPrune.Graph;

namespace OnnxPrune.Pruning;

/// <summary>
/// The equivalence oracle's reference: a copy of the original model in which the removed units of every mask are
/// zeroed in every coupled constant slice. Removing units must give the same outputs as this model.
/// </summary>
/// <remarks>
/// Zeroing constants suffices, without Mul-by-mask on activations: a removed unit's weights and biases are zero,
/// so its activation is f(0) for the elementwise ops in between (finite for every op with a rule), and every
/// consumer that mixes units (Conv, Gemm, MatMul) reads it through an input slice that is zeroed too. Ops that would
/// let such a value reach the outputs un-zeroed — a mixing normalization, a reduction or softmax over the unit axis,
/// a graph output — block the group in analysis, so they never appear here. Two kinds of slices are filled with 1 instead
/// of 0 so that the reference stays finite: divisors of Div and BatchNormalization variances (also when the constant
/// reaches them through Reshape/Unsqueeze-like ops).
/// </remarks>
public static class MaskedReference
{
    /// <summary>Builds the masked reference of <paramref name="original"/> (not modified). Build it before running
    /// surgery on the same model instance.</summary>
    public static OnnxModel Build(OnnxModel original, IReadOnlyList<KeepMask> masks)
    {
        ArgumentNullException.ThrowIfNull(original);
        ArgumentNullException.ThrowIfNull(masks);
        var copy = OnnxModel.FromBytes(original.ToBytes(), "masked reference");
        foreach (var mask in masks)
        {
            if (mask.KeepsAll) continue;
            var kept = new HashSet<long>(mask.Kept);
            var removed = Enumerable.Range(0, checked((int)mask.Group.Size)).Select(i => (long)i).Where(u => !kept.Contains(u)).ToArray();
            foreach (var item in mask.Group.ConstantSlices)
            {
                var value = copy.Graph.GetValue(item.Value.Name);
                var constant = value.Constant ?? throw new InvalidOperationException($"'{value.Name}' is not a constant in the copy.");
                if (!Tensors.ElementTypes.IsFloatingPoint(constant.ElementType)) continue;
                bool one = FeedsDivisor(value);
                var data = constant.Data;
                TensorSlicing.Fill(data, item.Axis, removed.SelectMany(item.Map.Positions), one ? 1 : 0);
                constant.Data = data;
            }
        }
        return copy;
    }

    // True when the constant reaches a Div divisor or a BatchNormalization variance, directly or through ops that only
    // move elements (Graph.ReorderOnly).
    private static bool FeedsDivisor(Value v) =>
        Graph.ReorderOnly.UsesThrough(v).Any(u => u.Consumer is { } c
            && ((c.OpType == "Div" && u.InputIndex == 1) || (c.OpType == "BatchNormalization" && u.InputIndex == 4)));
}
