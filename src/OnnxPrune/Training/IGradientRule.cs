using OnnxPrune.Graph;

namespace OnnxPrune.Training;

/// <summary>
/// How to differentiate one family of operators: which inputs carry gradients and how to emit, in standard ONNX ops,
/// the gradients of the inputs from the gradients of the outputs. One type per op family, found by
/// <see cref="GradientRegistry"/>; adding an op touches one file.
/// </summary>
public interface IGradientRule : IOpTypeRule
{
    /// <summary>True when input <paramref name="index"/> of <paramref name="node"/> is differentiable (data, not shapes, axes or bounds).</summary>
    bool IsDifferentiable(Node node, int index);

    /// <summary>
    /// Emits the backward ops of <paramref name="node"/>. <paramref name="outputGradients"/> holds the gradient of each output
    /// (null where no gradient flows back through that output). Returns one entry per input: the gradient (with the input's exact
    /// shape) where <see cref="GradientContext.NeedsGradient"/> is true, else null.
    /// </summary>
    Value?[] Backward(GradientContext context, Node node, IReadOnlyList<Value?> outputGradients);
}

/// <summary>Convenience base: every input listed in <see cref="DifferentiableInputs"/> carries gradients.</summary>
public abstract class GradientRule : IGradientRule
{
    /// <inheritdoc/>
    public abstract IReadOnlyList<string> OpTypes { get; }

    /// <summary>Indices of differentiable inputs; default: only input 0.</summary>
    protected virtual IReadOnlyList<int> DifferentiableInputs => [0];

    /// <inheritdoc/>
    public virtual bool IsDifferentiable(Node node, int index) => DifferentiableInputs.Contains(index);

    /// <inheritdoc/>
    public Value?[] Backward(GradientContext context, Node node, IReadOnlyList<Value?> outputGradients)
    {
        var result = new Value?[node.Inputs.Count];
        Backward(context, node, outputGradients, result);
        for (int i = 0; i < result.Length; i++)
            if (!context.NeedsGradient(node.Input(i))) result[i] = null;
        return result;
    }

    /// <summary>Fills <paramref name="inputGradients"/> (pre-sized to the input count) for inputs that need them.</summary>
    protected abstract void Backward(GradientContext c, Node node, IReadOnlyList<Value?> outputGradients, Value?[] inputGradients);
}
