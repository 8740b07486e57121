using System.Numerics.Tensors;

namespace OnnxPrune.Training;

/// <summary>Which optimizer updates the weights.</summary>
public enum OptimizerKind
{
    /// <summary>Stochastic gradient descent with (optionally Nesterov) momentum and L2 weight decay.</summary>
    Sgd,
    /// <summary>Adam with decoupled weight decay (Loshchilov and Hutter).</summary>
    AdamW,
}

/// <summary>
/// Optimizer hyper-parameters (PyTorch's defaults and semantics; weight decay 0). <see cref="For"/> gives the fine-tuning
/// defaults per optimizer that <see cref="TrainerOptions"/> and the CLI use.
/// </summary>
public sealed record OptimizerOptions
{
    /// <summary>Fine-tuning defaults: SGD momentum 0.9 with weight decay 5e-4; AdamW with decoupled weight decay 0.05.</summary>
    public static OptimizerOptions For(OptimizerKind kind) => kind switch
    {
        OptimizerKind.Sgd => new OptimizerOptions { Kind = kind, WeightDecay = 5e-4f },
        OptimizerKind.AdamW => new OptimizerOptions { Kind = kind, WeightDecay = 0.05f },
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown optimizer."),
    };

    /// <summary>The algorithm.</summary>
    public OptimizerKind Kind { get; init; } = OptimizerKind.Sgd;
    /// <summary>SGD momentum μ.</summary>
    public float Momentum { get; init; } = 0.9f;
    /// <summary>SGD: Nesterov momentum.</summary>
    public bool Nesterov { get; init; }
    /// <summary>Weight decay (L2 for SGD, decoupled for AdamW).</summary>
    public float WeightDecay { get; init; }
    /// <summary>Apply weight decay to 1-D tensors (biases, norm scales) too; default no.</summary>
    public bool DecayOneDimensional { get; init; }
    /// <summary>AdamW β₁.</summary>
    public float Beta1 { get; init; } = 0.9f;
    /// <summary>AdamW β₂.</summary>
    public float Beta2 { get; init; } = 0.999f;
    /// <summary>AdamW ε.</summary>
    public float Epsilon { get; init; } = 1e-8f;
}

/// <summary>
/// Updates weights in place from their gradients, on the CPU with <see cref="TensorPrimitives"/>. The trainer calls it on
/// the bound input buffers of the training session, so a step copies no weights at all (an in-graph optimizer would have
/// to copy every updated weight from the outputs back to the inputs).
/// </summary>
public abstract class Optimizer
{
    /// <summary>Creates the optimizer for a list of parameter sizes.</summary>
    public static Optimizer Create(OptimizerOptions options, IReadOnlyList<TrainableParameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(parameters);
        return options.Kind switch
        {
            OptimizerKind.Sgd => new SgdOptimizer(options, parameters),
            OptimizerKind.AdamW => new AdamWOptimizer(options, parameters),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Kind, "Unknown optimizer."),
        };
    }

    /// <summary>Call once per training step, before the <see cref="Update"/> calls of that step.</summary>
    public virtual void BeginStep() { }

    /// <summary>Updates parameter <paramref name="index"/> in place.</summary>
    /// <param name="index">The parameter's position in the list given at creation.</param>
    /// <param name="weights">The weights, updated in place.</param>
    /// <param name="gradient">dLoss/dWeights (not modified).</param>
    /// <param name="learningRate">The step's learning rate.</param>
    public abstract void Update(int index, Span<float> weights, ReadOnlySpan<float> gradient, float learningRate);
}

/// <summary>SGD: g = ∇ + λw; v = μv + g; w −= lr·(Nesterov ? g + μv : v).</summary>
internal sealed class SgdOptimizer : Optimizer
{
    private readonly OptimizerOptions _o;
    private readonly float[][] _velocity;
    private readonly float[][] _scratch;
    private readonly bool[] _decay;

    public SgdOptimizer(OptimizerOptions options, IReadOnlyList<TrainableParameter> parameters)
    {
        _o = options;
        _velocity = parameters.Select(p => new float[p.ElementCount]).ToArray();
        _scratch = parameters.Select(p => new float[p.ElementCount]).ToArray();
        _decay = parameters.Select(p => options.DecayOneDimensional || p.Shape.Length > 1).ToArray();
    }

    public override void Update(int index, Span<float> weights, ReadOnlySpan<float> gradient, float learningRate)
    {
        var g = _scratch[index].AsSpan();
        if (_decay[index] && _o.WeightDecay != 0) TensorPrimitives.MultiplyAdd(weights, _o.WeightDecay, gradient, g);
        else gradient.CopyTo(g);
        if (_o.Momentum != 0)
        {
            var v = _velocity[index].AsSpan();
            TensorPrimitives.MultiplyAdd(v, _o.Momentum, g, v);
            if (_o.Nesterov) TensorPrimitives.MultiplyAdd(v, _o.Momentum, g, g);
            else v.CopyTo(g);
        }
        TensorPrimitives.MultiplyAdd(g, -learningRate, weights, weights);
    }
}

/// <summary>AdamW: m = β₁m + (1−β₁)g; v = β₂v + (1−β₂)g²; w = w(1 − lr·λ) − lr·m̂/(√v̂ + ε).</summary>
internal sealed class AdamWOptimizer : Optimizer
{
    private readonly OptimizerOptions _o;
    private readonly float[][] _m, _v, _scratch;
    private readonly bool[] _decay;
    private int _t;

    public AdamWOptimizer(OptimizerOptions options, IReadOnlyList<TrainableParameter> parameters)
    {
        _o = options;
        _m = parameters.Select(p => new float[p.ElementCount]).ToArray();
        _v = parameters.Select(p => new float[p.ElementCount]).ToArray();
        _scratch = parameters.Select(p => new float[p.ElementCount]).ToArray();
        _decay = parameters.Select(p => options.DecayOneDimensional || p.Shape.Length > 1).ToArray();
    }

    public override void BeginStep() => _t++;

    public override void Update(int index, Span<float> weights, ReadOnlySpan<float> gradient, float learningRate)
    {
        if (_t == 0) throw new InvalidOperationException("Call BeginStep before Update.");
        Span<float> m = _m[index], v = _v[index], tmp = _scratch[index];
        float b1 = _o.Beta1, b2 = _o.Beta2;
        TensorPrimitives.Multiply(m, b1, m);
        TensorPrimitives.MultiplyAdd(gradient, 1 - b1, m, m);
        TensorPrimitives.Multiply(gradient, gradient, tmp);
        TensorPrimitives.Multiply(v, b2, v);
        TensorPrimitives.MultiplyAdd(tmp, 1 - b2, v, v);
        float bc1 = 1 - MathF.Pow(b1, _t), bc2 = 1 - MathF.Pow(b2, _t);
        TensorPrimitives.Multiply(v, 1 / bc2, tmp);
        TensorPrimitives.Sqrt(tmp, tmp);
        TensorPrimitives.Add(tmp, _o.Epsilon, tmp);
        TensorPrimitives.Divide(m, tmp, tmp);
        if (_decay[index] && _o.WeightDecay != 0) TensorPrimitives.Multiply(weights, 1 - learningRate * _o.WeightDecay, weights);
        TensorPrimitives.MultiplyAdd(tmp, -learningRate / bc1, weights, weights);
    }
}
