using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using OnnxPrune.Tensors;
using BFloat16 = OnnxPrune.Tensors.BFloat16;

namespace OnnxPrune.Runtime;

/// <summary>Seeded random input tensors for a model, from its input metadata (for smoke runs and benchmarks).</summary>
/// <remarks>
/// Dynamic dimensions are resolved by <c>dims</c>: a key is either the symbolic dimension name (e.g. <c>batch</c>)
/// or <c>INPUT:AXIS</c> (e.g. <c>image:2</c>, which wins over the name); anything unresolved becomes
/// <c>defaultDim</c>. Floating-point inputs are uniform in [-1, 1), integers uniform in [0, 10), booleans fair coins.
/// </remarks>
public static class RandomInputs
{
    /// <summary>Concrete shapes for every input.</summary>
    /// <exception cref="ArgumentException">A dimension value is not positive.</exception>
    public static Dictionary<string, long[]> ResolveShapes(IReadOnlyDictionary<string, NodeMetadata> inputs, IReadOnlyDictionary<string, long>? dims = null, long defaultDim = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(defaultDim, 0);
        var result = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var (name, input) in inputs)
        {
            var shape = new long[input.Dimensions.Length];
            for (int axis = 0; axis < shape.Length; axis++)
            {
                long d = input.Dimensions[axis];
                if (d < 0)
                {
                    var symbol = input.SymbolicDimensions.Length > axis && !string.IsNullOrEmpty(input.SymbolicDimensions[axis]) ? input.SymbolicDimensions[axis] : null;
                    if (dims != null && dims.TryGetValue($"{name}:{axis.ToString(CultureInfo.InvariantCulture)}", out var byAxis)) d = byAxis;
                    else if (dims != null && symbol != null && dims.TryGetValue(symbol, out var bySymbol)) d = bySymbol;
                    else d = defaultDim;
                    if (d < 0) throw new ArgumentException($"Dimension {axis} of input '{name}' resolved to {d}.", nameof(dims));
                }
                shape[axis] = d;
            }
            result[name] = shape;
        }
        return result;
    }

    /// <summary>Random tensors for every input of <paramref name="inputs"/> (e.g. <see cref="InferenceSession.InputMetadata"/>; all must be tensors).</summary>
    /// <exception cref="UnsupportedElementTypeException">An input is not a tensor or has an element type without a random generator here.</exception>
    public static Dictionary<string, Tensor> Create(IReadOnlyDictionary<string, NodeMetadata> inputs, int seed, IReadOnlyDictionary<string, long>? dims = null, long defaultDim = 1)
    {
        var rng = new Random(seed);
        var shapes = ResolveShapes(inputs, dims, defaultDim);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, input) in inputs)
        {
            if (input.OnnxValueType != OnnxValueType.ONNX_TYPE_TENSOR)
                throw new UnsupportedElementTypeException($"Input '{name}' is a {input.TypeText()}; only tensor inputs can be generated.");
            var elementType = input.OnnxPruneElementType();
            result[name] = IsGenerated(elementType) ? Fill(elementType, shapes[name], rng)
                : throw new UnsupportedElementTypeException($"Input '{name}' is {input.TypeText()}: no random generator for element type {elementType}; feed it from a file instead.");
        }
        return result;
    }

    /// <summary>Whether <see cref="Fill"/> has a generator for <paramref name="type"/>.</summary>
    public static bool IsGenerated(ElementType type) => type is ElementType.Float or ElementType.Double or ElementType.Float16 or ElementType.BFloat16
        or ElementType.Int64 or ElementType.Int32 or ElementType.Int16 or ElementType.Int8 or ElementType.UInt8 or ElementType.UInt16
        or ElementType.UInt32 or ElementType.UInt64 or ElementType.Bool;

    /// <summary>A random tensor of the given type and shape.</summary>
    /// <exception cref="UnsupportedElementTypeException">No generator for <paramref name="type"/>.</exception>
    public static Tensor Fill(ElementType type, long[] shape, Random rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var tensor = Tensor.Zeros(type, shape);
        switch (type)
        {
            case ElementType.Float: foreach (ref var v in tensor.AsSpan<float>()) v = (float)(rng.NextDouble() * 2 - 1); break;
            case ElementType.Double: foreach (ref var v in tensor.AsSpan<double>()) v = rng.NextDouble() * 2 - 1; break;
            case ElementType.Float16: foreach (ref var v in tensor.AsSpan<Half>()) v = (Half)(rng.NextDouble() * 2 - 1); break;
            case ElementType.BFloat16: foreach (ref var v in tensor.AsSpan<BFloat16>()) v = (BFloat16)(float)(rng.NextDouble() * 2 - 1); break;
            case ElementType.Int64: foreach (ref var v in tensor.AsSpan<long>()) v = rng.Next(10); break;
            case ElementType.Int32: foreach (ref var v in tensor.AsSpan<int>()) v = rng.Next(10); break;
            case ElementType.Int16: foreach (ref var v in tensor.AsSpan<short>()) v = (short)rng.Next(10); break;
            case ElementType.Int8: foreach (ref var v in tensor.AsSpan<sbyte>()) v = (sbyte)rng.Next(10); break;
            case ElementType.UInt8: foreach (ref var v in tensor.AsSpan<byte>()) v = (byte)rng.Next(10); break;
            case ElementType.UInt16: foreach (ref var v in tensor.AsSpan<ushort>()) v = (ushort)rng.Next(10); break;
            case ElementType.UInt32: foreach (ref var v in tensor.AsSpan<uint>()) v = (uint)rng.Next(10); break;
            case ElementType.UInt64: foreach (ref var v in tensor.AsSpan<ulong>()) v = (ulong)rng.Next(10); break;
            case ElementType.Bool:
            {
                var bytes = MemoryMarshal.AsBytes(tensor.AsSpan<bool>());
                for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)rng.Next(2);
                break;
            }
            default: throw new UnsupportedElementTypeException($"No random generator for element type {type}.");
        }
        return tensor;
    }

    /// <summary>Parses <c>NAME=VALUE</c> / <c>INPUT:AXIS=VALUE</c> pairs: the one grammar of <see cref="Graph.DimBindings.Parse"/>.</summary>
    /// <exception cref="ArgumentException">A pair is malformed or its value is not a positive integer.</exception>
    public static Dictionary<string, long> ParseDims(IEnumerable<string>? pairs) => Graph.DimBindings.Parse(pairs);
}
