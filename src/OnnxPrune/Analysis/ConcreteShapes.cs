using OnnxPrune.Graph;

namespace OnnxPrune.Analysis;

/// <summary>
/// Concrete (all-numeric) shapes of a graph's values for cost counting. A value's declared shape is used when every
/// dim resolves (numbers, or symbolic names given in the dims map; a data input's unknown first dim is the batch);
/// otherwise a small propagation covers the ops that carry MACs and the common ops between them. Values it cannot
/// resolve stay unknown, and the symbolic names that blocked them are collected in <see cref="MissingDims"/>.
/// </summary>
internal sealed class ConcreteShapes
{
    private static readonly HashSet<string> SameShape = new(StringComparer.Ordinal)
    {
        "Relu", "Sigmoid", "Tanh", "LeakyRelu", "Clip", "HardSigmoid", "HardSwish", "BatchNormalization", "Dropout",
        "Identity", "Softmax", "LogSoftmax", "Cast", "Sqrt", "Exp", "Log", "Neg", "Abs", "Erf", "Gelu", "Elu", "Selu",
        "PRelu", "InstanceNormalization", "LayerNormalization", "LRN", "Softplus", "Softsign", "Mish", "Floor", "Ceil",
        "Round", "Reciprocal", "Sin", "Cos", "ThresholdedRelu", "Celu", "Not", "Sign", "QuantizeLinear", "DequantizeLinear",
    };

    private static readonly HashSet<string> Broadcast = new(StringComparer.Ordinal)
    {
        "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Where", "Equal", "Greater", "Less", "And", "Or",
        "GreaterOrEqual", "LessOrEqual", "Mod", "BitShift", "Xor",
    };

    private readonly Dictionary<Value, long[]> _shapes = new(ReferenceEqualityComparer.Instance);
    private readonly IReadOnlyDictionary<string, long> _dims;
    private readonly long _batch;

    /// <summary>Resolves the shapes of <paramref name="graph"/> (nodes are visited in topological order).</summary>
    public ConcreteShapes(Graph.Graph graph, IReadOnlyDictionary<string, long> dims, long batch, Func<Value, long[]?>? external = null)
    {
        _dims = dims;
        _batch = batch;
        foreach (var v in graph.Values)
            if (v.Constant is { } c) _shapes[v] = c.Shape.ToArray();
        foreach (var input in graph.DataInputs)
            if (Declared(input, isDataInput: true) is { } s) _shapes[input] = s;
        foreach (var node in graph.Nodes)
        {
            if (node.ConstantOutput is not null) continue;
            long[]?[]? inferred = null;
            try { inferred = Infer(node); } catch (Exception e) when (e is ArgumentException or InvalidOperationException or IndexOutOfRangeException or OverflowException) { }
            for (int i = 0; i < node.Outputs.Count; i++)
            {
                if (node.Outputs[i] is not { } output) continue;
                var shape = external?.Invoke(output) ?? Declared(output, isDataInput: false) ?? (inferred is not null && i < inferred.Length ? inferred[i] : null);
                if (shape is not null) _shapes[output] = shape;
            }
        }
    }

    /// <summary>Symbolic dim names that were needed but not given.</summary>
    public SortedSet<string> MissingDims { get; } = new(StringComparer.Ordinal);

    /// <summary>The concrete shape of a value, or null.</summary>
    public long[]? Of(Value? value) => value is not null && _shapes.TryGetValue(value, out var s) ? s : null;

    private long[]? Declared(Value v, bool isDataInput)
    {
        var shape = v.Shape;
        if (shape is null || !v.HasType) return null;
        var result = new long[shape.Count];
        bool complete = true;
        for (int i = 0; i < shape.Count; i++)
        {
            if (shape[i].Value is long known) result[i] = known;
            else if (shape[i].Param is { } p && _dims.TryGetValue(p, out var given)) result[i] = given;
            else if (isDataInput && i == 0) result[i] = _batch;
            else
            {
                if (isDataInput) MissingDims.Add(shape[i].Param ?? $"{v.Name}[{i}]");
                complete = false;
            }
        }
        return complete ? result : null;
    }

    private long[]?[]? Infer(Node node)
    {
        var x = Of(node.Input(0));
        if (!node.IsStandard) return null;
        var op = node.OpType;
        if (SameShape.Contains(op)) return x is null ? null : [x];
        if (Broadcast.Contains(op))
        {
            long[]? acc = Array.Empty<long>();
            foreach (var input in node.Inputs) acc = BroadcastShapes(acc, Of(input));
            return acc is null ? null : [acc];
        }
        var a = node.Attributes;
        switch (op)
        {
            case "Conv":
            case "MaxPool":
            case "AveragePool":
            case "LpPool":
            {
                var w = op == "Conv" ? Of(node.Input(1)) : null;
                if (x is null || (op == "Conv" && w is null)) return null;
                int spatial = x.Length - 2;
                var kernel = a.GetInts("kernel_shape") ?? w![2..];
                var strides = a.GetInts("strides") ?? Fill(spatial, 1);
                var dilations = a.GetInts("dilations") ?? Fill(spatial, 1);
                var pads = a.GetInts("pads") ?? Fill(2 * spatial, 0);
                var autoPad = a.GetString("auto_pad", "NOTSET");
                bool ceil = a.GetInt("ceil_mode", 0) != 0;
                var y = new long[x.Length];
                y[0] = x[0];
                y[1] = op == "Conv" ? w![0] : x[1];
                for (int i = 0; i < spatial; i++)
                {
                    long effective = (kernel[i] - 1) * dilations[i] + 1;
                    long input = x[i + 2];
                    y[i + 2] = autoPad switch
                    {
                        "SAME_UPPER" or "SAME_LOWER" => (input + strides[i] - 1) / strides[i],
                        "VALID" => (input - effective) / strides[i] + 1,
                        _ => ceil
                            ? (long)Math.Ceiling((double)(input + pads[i] + pads[i + spatial] - effective) / strides[i]) + 1
                            : (input + pads[i] + pads[i + spatial] - effective) / strides[i] + 1,
                    };
                }
                return [y];
            }
            case "ConvTranspose":
            {
                var w = Of(node.Input(1));
                if (x is null || w is null) return null;
                int spatial = x.Length - 2;
                var y = new long[x.Length];
                y[0] = x[0];
                y[1] = w[1] * a.GetInt("group", 1);
                if (a.GetInts("output_shape") is { } outShape)
                {
                    for (int i = 0; i < spatial; i++) y[i + 2] = outShape[outShape.Length - spatial + i];
                    return [y];
                }
                var strides = a.GetInts("strides") ?? Fill(spatial, 1);
                var dilations = a.GetInts("dilations") ?? Fill(spatial, 1);
                var pads = a.GetInts("pads") ?? Fill(2 * spatial, 0);
                var outPad = a.GetInts("output_padding") ?? Fill(spatial, 0);
                var autoPad = a.GetString("auto_pad", "NOTSET");
                for (int i = 0; i < spatial; i++)
                    y[i + 2] = autoPad is "SAME_UPPER" or "SAME_LOWER"
                        ? x[i + 2] * strides[i]
                        : strides[i] * (x[i + 2] - 1) + outPad[i] + (w[i + 2] - 1) * dilations[i] + 1 - pads[i] - pads[i + spatial];
                return [y];
            }
            case "GlobalAveragePool":
            case "GlobalMaxPool":
                return x is null ? null : [x.Select((d, i) => i < 2 ? d : 1L).ToArray()];
            case "Flatten":
            {
                if (x is null) return null;
                long axis = a.GetInt("axis", 1);
                if (axis < 0) axis += x.Length;
                long left = 1, right = 1;
                for (int i = 0; i < x.Length; i++) { if (i < axis) left *= x[i]; else right *= x[i]; }
                return [[left, right]];
            }
            case "Gemm":
            {
                var b = Of(node.Input(1));
                if (x is null || b is null) return null;
                long m = a.GetInt("transA", 0) != 0 ? x[1] : x[0];
                long n = a.GetInt("transB", 0) != 0 ? b[0] : b[1];
                return [[m, n]];
            }
            case "MatMul":
            {
                var b = Of(node.Input(1));
                if (x is null || b is null) return null;
                var a2 = x.Length == 1 ? new[] { 1L, x[0] } : x;
                var b2 = b.Length == 1 ? new[] { b[0], 1L } : b;
                var batch = BroadcastShapes(a2[..^2], b2[..^2]);
                if (batch is null) return null;
                var y = batch.Concat(new[] { a2[^2], b2[^1] }).ToList();
                if (x.Length == 1) y.RemoveAt(y.Count - 2);
                if (b.Length == 1) y.RemoveAt(y.Count - 1);
                return [y.ToArray()];
            }
            case "Reshape":
            {
                var target = node.Input(1)?.Constant?.Data.ToInt64Array();
                if (x is null || target is null) return null;
                var y = (long[])target.Clone();
                long known = 1; int infer = -1;
                for (int i = 0; i < y.Length; i++)
                {
                    if (y[i] == 0 && a.GetInt("allowzero", 0) == 0) y[i] = x[i];
                    if (y[i] == -1) infer = i; else known *= y[i];
                }
                if (infer >= 0) y[infer] = x.Aggregate(1L, (p, d) => p * d) / known;
                return [y];
            }
            case "Transpose":
            {
                if (x is null) return null;
                var perm = a.GetInts("perm") ?? Enumerable.Range(0, x.Length).Reverse().Select(i => (long)i).ToArray();
                return [perm.Select(p => x[p]).ToArray()];
            }
            case "Concat":
            {
                var shapes = node.Inputs.Select(Of).ToArray();
                if (shapes.Any(s => s is null) || shapes.Length == 0) return null;
                long axis = a.GetInt("axis", 0);
                if (axis < 0) axis += shapes[0]!.Length;
                var y = (long[])shapes[0]!.Clone();
                y[axis] = shapes.Sum(s => s![axis]);
                return [y];
            }
            case "Resize":
            case "Upsample":
            {
                if (x is null) return null;
                var sizes = node.Input(3)?.Constant?.Data;
                if (sizes is not null && sizes.ElementCount == x.Length) return [sizes.ToInt64Array()];
                var scalesTensor = op == "Upsample" ? node.Input(1)?.Constant?.Data : node.Input(2)?.Constant?.Data;
                var scales = scalesTensor is { ElementCount: > 0 } ? scalesTensor.ToFloatArray() : a.GetFloats("scales");
                if (scales is null || scales.Length != x.Length) return null;
                return [x.Select((d, i) => (long)Math.Floor(d * scales[i])).ToArray()];
            }
        }
        return null;
    }

    private static long[] Fill(int n, long value) => Enumerable.Repeat(value, n).ToArray();

    private static long[]? BroadcastShapes(long[]? a, long[]? b)
    {
        if (a is null || b is null) return null;
        int rank = Math.Max(a.Length, b.Length);
        var y = new long[rank];
        for (int i = 0; i < rank; i++)
        {
            long da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            long db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1) return null;
            y[i] = da == 1 ? db : da;
        }
        return y;
    }
}
