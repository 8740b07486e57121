using OnnxPrune.Graph;

namespace OnnxPrune.Training.Gradients;

/// <summary>Concat: dY split back into the inputs' sizes along the axis. Split: the outputs' gradients concatenated (zeros where none).</summary>
public sealed class ConcatSplitGradient : GradientRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes => ["Concat", "Split"];

    /// <inheritdoc/>
    public override bool IsDifferentiable(Node node, int index) => node.OpType == "Concat" || index == 0;

    /// <inheritdoc/>
    protected override void Backward(GradientContext c, Node node, IReadOnlyList<Value?> dOut, Value?[] dIn)
    {
        if (node.OpType == "Concat")
        {
            var dy = dOut[0];
            if (dy is null) return;
            int r = c.RankOf(node.Output(0)!);
            long axis = GradientContext.Axis(node.Attributes.GetInt("axis", 0), r);
            var sizes = node.Inputs.Select(v => c.ShapeOf(v!)[axis]).ToArray();
            var parts = c.Builder.OpNode("Split", [dy, c.Int64s(sizes)], sizes.Length, ("axis", axis));
            for (int i = 0; i < sizes.Length; i++) dIn[i] = parts.Output(i);
        }
        else
        {
            var x = node.Input(0)!;
            int r = c.RankOf(x);
            long axis = GradientContext.Axis(node.Attributes.GetInt("axis", 0), r);
            var pieces = new Value[node.Outputs.Count];
            for (int i = 0; i < pieces.Length; i++)
                pieces[i] = dOut[i] ?? c.Zeros(c.ShapeOf(node.Output(i)!));
            dIn[0] = pieces.Length == 1 ? pieces[0] : c.Op("Concat", pieces, ("axis", axis));
        }
    }
}
