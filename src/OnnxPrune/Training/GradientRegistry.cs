using OnnxPrune.Graph;
using OnnxPrune.Training.Gradients;

namespace OnnxPrune.Training;

/// <summary>
/// Gradient rules by op type, on the same registration mechanism as the pruning rules (<see cref="OpRegistry{TRule}"/>:
/// explicit registration, a duplicate op type throws). <see cref="CreateDefault"/> lists every built-in rule (one per op
/// family, in <c>Training/Gradients/</c>); callers may add rules or <see cref="Replace"/> one on their own instance.
/// </summary>
public sealed class GradientRegistry
{
    private readonly OpRegistry<IGradientRule> _rules = new();

    /// <summary>A registry holding all of OnnxPrune's built-in rules.</summary>
    public static GradientRegistry CreateDefault() => new GradientRegistry()
        .Register(new BroadcastArithmeticGradient())
        .Register(new ConcatSplitGradient())
        .Register(new ConvGradient())
        .Register(new ConvTransposeGradient())
        .Register(new GatherGradient())
        .Register(new GemmGradient())
        .Register(new MatMulGradient())
        .Register(new NormalizationGradient())
        .Register(new PiecewiseLinearGradient())
        .Register(new PoolingGradient())
        .Register(new PowGradient())
        .Register(new ReduceGradient())
        .Register(new ResizeGradient())
        .Register(new ShapeGradient())
        .Register(new SlicePadGradient())
        .Register(new SmoothActivationGradient())
        .Register(new SoftmaxGradient());

    /// <summary>Registers the rule for each of its op types.</summary>
    /// <exception cref="ArgumentException">One of its op types already has a rule (use <see cref="Replace"/>).</exception>
    public GradientRegistry Register(IGradientRule rule)
    {
        _rules.Register(rule);
        return this;
    }

    /// <summary>Replaces the rules of <paramref name="rule"/>'s op types, which must already have one.</summary>
    public GradientRegistry Replace(IGradientRule rule)
    {
        _rules.Replace(rule);
        return this;
    }

    /// <summary>The rule for an op type, or null.</summary>
    public IGradientRule? Find(string opType) => _rules.Find(opType);

    /// <summary>Every op type with a rule, sorted.</summary>
    public IEnumerable<string> OpTypes => _rules.OpTypes;
}
