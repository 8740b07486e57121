using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Training;

/// <summary>
/// What a gradient rule sees while the backward graph is emitted: the static shapes of the forward values (the training
/// graph has a fixed batch size), which values need gradients, constant (or probed shape-like) values, and helpers that
/// emit standard ONNX ops into the training graph.
/// </summary>
public sealed class GradientContext
{
    private readonly Dictionary<Value, (ElementType Type, long[] Shape)> _types;
    private readonly Dictionary<string, Tensor> _knownValues;
    private readonly HashSet<Value> _needsGradient;
    private readonly Dictionary<float, Value> _scalars = new();

    internal GradientContext(GraphBuilder builder, Dictionary<Value, (ElementType, long[])> types, Dictionary<string, Tensor> knownValues,
        HashSet<Value> needsGradient, long opset, BatchNormMode batchNorm)
    {
        Builder = builder;
        _types = types;
        _knownValues = knownValues;
        _needsGradient = needsGradient;
        Opset = opset;
        BatchNorm = batchNorm;
    }

    /// <summary>The builder of the training graph (use it to emit ops).</summary>
    public GraphBuilder Builder { get; }

    /// <summary>The default-domain opset of the training graph (≥ 13).</summary>
    public long Opset { get; }

    /// <summary>How BatchNormalization is trained.</summary>
    public BatchNormMode BatchNorm { get; }

    /// <summary>How Conv weight gradients are computed.</summary>
    public ConvWeightGradientMethod ConvWeightGradient { get; init; }

    /// <summary>True when <paramref name="value"/> depends on a trainable tensor through differentiable inputs.</summary>
    public bool NeedsGradient(Value? value) => value is not null && _needsGradient.Contains(value);

    /// <summary>The static shape of a forward value (for the training batch size).</summary>
    /// <exception cref="UnsupportedModelException">The shape is not known.</exception>
    public long[] ShapeOf(Value value) => _types.TryGetValue(value, out var t) ? t.Shape
        : throw new UnsupportedModelException($"The shape of value '{value.Name}' is not known to the gradient builder.");

    /// <summary>The rank of a forward value.</summary>
    public int RankOf(Value value) => ShapeOf(value).Length;

    /// <summary>The element type of a forward value.</summary>
    public ElementType TypeOf(Value value) => _types.TryGetValue(value, out var t) ? t.Type
        : value.ElementType != ElementType.Undefined ? value.ElementType
        : throw new UnsupportedModelException($"The element type of value '{value.Name}' is not known to the gradient builder.");

    /// <summary>Records the type and shape of a value created while rewriting the forward graph.</summary>
    public void SetType(Value value, ElementType type, long[] shape) => _types[value] = (type, shape);

    /// <summary>The value of a constant, or of a small integer tensor computed from shapes (probed at the training batch size); null otherwise.</summary>
    public Tensor? KnownValue(Value? value)
    {
        if (value is null) return null;
        if (value.Constant is { } c) return c.Data;
        return _knownValues.GetValueOrDefault(value.Name);
    }

    /// <summary>The integer values of a constant or shape-derived input.</summary>
    /// <exception cref="UnsupportedModelException">The input is computed from data.</exception>
    public long[] Ints(Node node, int index)
    {
        var v = node.Input(index) ?? throw Unsupported(node, $"input {index} is missing");
        return (KnownValue(v) ?? throw Unsupported(node, $"input {index} ('{v.Name}') must be constant for differentiation")).ToInt64Array();
    }

    /// <summary>The float values of a constant input, or null when the input is omitted.</summary>
    public float[]? Floats(Node node, int index)
    {
        var v = node.Input(index);
        if (v is null || v.Name.Length == 0) return null;
        return (KnownValue(v) ?? throw Unsupported(node, $"input {index} ('{v.Name}') must be constant for differentiation")).ToFloatArray();
    }

    /// <summary>An exception naming the node and why it cannot be differentiated.</summary>
    public UnsupportedModelException Unsupported(Node node, string reason) =>
        new($"Cannot differentiate node {node.DisplayName} ({node.OpType}): {reason}.");

    // ---- emitting ops ----

    /// <summary>Emits one op with one output.</summary>
    public Value Op(string opType, Value?[] inputs, params (string Name, object Value)[] attributes) => Builder.Op(opType, inputs, attributes);

    /// <summary>An int64 1-D constant.</summary>
    public Value Int64s(params long[] values) => Builder.Int64s("grad_const", values);

    /// <summary>A float32 scalar constant (shared per value).</summary>
    public Value Scalar(float value)
    {
        if (!_scalars.TryGetValue(value, out var v))
            _scalars[value] = v = Builder.Initializer("grad_scalar", Tensor.Scalar(value));
        return v;
    }

    /// <summary>a + b.</summary>
    public Value Add(Value a, Value b) => Op("Add", [a, b]);
    /// <summary>a − b.</summary>
    public Value Sub(Value a, Value b) => Op("Sub", [a, b]);
    /// <summary>a · b.</summary>
    public Value Mul(Value a, Value b) => Op("Mul", [a, b]);
    /// <summary>a · s for a scalar s (no op when s = 1).</summary>
    public Value Mul(Value a, float s) => s == 1f ? a : Op("Mul", [a, Scalar(s)]);
    /// <summary>a / b.</summary>
    public Value Div(Value a, Value b) => Op("Div", [a, b]);
    /// <summary>−a.</summary>
    public Value Neg(Value a) => Op("Neg", [a]);
    /// <summary>Casts to float32.</summary>
    public Value ToFloat(Value a) => Op("Cast", [a], ("to", (long)ElementType.Float));

    /// <summary>ReduceSum over <paramref name="axes"/> (opset-13 form: axes as an input).</summary>
    public Value ReduceSum(Value x, long[] axes, bool keepDims) =>
        axes.Length == 0 ? x : Op("ReduceSum", [x, Int64s(axes)], ("keepdims", keepDims ? 1L : 0L));

    /// <summary>ReduceMean over <paramref name="axes"/> (axes as attribute before opset 18, as input from 18).</summary>
    public Value ReduceMean(Value x, long[] axes, bool keepDims) => Opset >= 18
        ? Op("ReduceMean", [x, Int64s(axes)], ("keepdims", keepDims ? 1L : 0L))
        : Op("ReduceMean", [x], ("axes", axes), ("keepdims", keepDims ? 1L : 0L));

    /// <summary>Reshape to a static shape.</summary>
    public Value Reshape(Value x, long[] shape) => Op("Reshape", [x, Int64s(shape)]);

    /// <summary>Transpose (no op for the identity permutation).</summary>
    public Value Transpose(Value x, long[] perm) =>
        perm.Select((p, i) => p == i).All(b => b) ? x : Op("Transpose", [x], ("perm", perm));

    /// <summary>Broadcasts to a static shape.</summary>
    public Value Expand(Value x, long[] shape) => Op("Expand", [x, Int64s(shape)]);

    /// <summary>A float32 zero tensor of a static shape.</summary>
    public Value Zeros(long[] shape) => Op("ConstantOfShape", [Int64s(shape)], ("value", Tensor.FromArray<float>([0f], 1)));

    /// <summary>Slices [starts, ends) on axes (step 1).</summary>
    public Value Slice(Value x, long[] starts, long[] ends, long[] axes) => Op("Slice", [x, Int64s(starts), Int64s(ends), Int64s(axes)]);

    /// <summary>Reverses <paramref name="x"/> along <paramref name="axis"/> (of size <paramref name="length"/>): a step −1 Slice.</summary>
    public Value Reverse(Value x, long axis, long length) => Op("Slice", [x, Int64s(-1), Int64s(-(length + 1)), Int64s(axis), Int64s(-1)]);

    /// <summary>
    /// Sums a gradient of shape <paramref name="gradShape"/> down to <paramref name="targetShape"/>, undoing numpy-style
    /// broadcasting (leading axes and axes where the target is 1).
    /// </summary>
    public Value SumToShape(Value grad, long[] gradShape, long[] targetShape)
    {
        if (gradShape.SequenceEqual(targetShape)) return grad;
        int offset = gradShape.Length - targetShape.Length;
        if (offset < 0) throw new UnsupportedModelException($"Cannot reduce a gradient of shape {Tensor.FormatShape(gradShape)} to {Tensor.FormatShape(targetShape)}.");
        var axes = new List<long>();
        for (int i = 0; i < gradShape.Length; i++)
        {
            long target = i < offset ? 1 : targetShape[i - offset];
            if (i < offset || (target == 1 && gradShape[i] != 1)) axes.Add(i);
        }
        var reduced = ReduceSum(grad, axes.ToArray(), keepDims: true);
        return Reshape(reduced, targetShape);
    }

    /// <summary>Normalizes a possibly negative axis.</summary>
    public static long Axis(long axis, int rank) => axis < 0 ? axis + rank : axis;
}
