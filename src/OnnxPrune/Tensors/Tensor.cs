using System.Runtime.InteropServices;

namespace OnnxPrune.Tensors;

/// <summary>
/// A dense host tensor: element type, shape and the elements in ONNX's raw little-endian layout.
/// The common currency between model I/O, the graph IR, the runtime binding and the numeric code.
/// </summary>
/// <remarks>
/// Data lives in one managed array, so a single tensor holds at most about 2 GiB; models whose weights add up
/// to more than that are fine (each tensor is its own array). String tensors are not represented here.
/// </remarks>
public sealed class Tensor
{
    private readonly long[] _shape;

    /// <summary>Wraps existing raw data (not copied).</summary>
    /// <exception cref="ArgumentException">The data length does not match the shape and element type.</exception>
    public Tensor(ElementType elementType, ReadOnlySpan<long> shape, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (elementType == ElementType.String || elementType == ElementType.Undefined)
            throw new ArgumentException($"Element type {elementType} has no fixed-size raw layout.", nameof(elementType));
        ElementCount = CountElements(shape);
        long bytes = ElementTypes.ByteCount(elementType, ElementCount);
        if (data.LongLength != bytes)
            throw new ArgumentException(
                $"Tensor of {elementType} [{string.Join(",", shape.ToArray())}] needs {bytes} bytes, got {data.LongLength}.", nameof(data));
        ElementType = elementType;
        _shape = shape.ToArray();
        RawData = data;
    }

    /// <summary>The element type.</summary>
    public ElementType ElementType { get; }

    /// <summary>The dimensions (empty for a scalar).</summary>
    public IReadOnlyList<long> Shape => _shape;

    /// <summary>The dimensions as a span.</summary>
    public ReadOnlySpan<long> Dims => _shape;

    /// <summary>Number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>Product of the dimensions (1 for a scalar).</summary>
    public long ElementCount { get; }

    /// <summary>The raw little-endian bytes (the tensor's own storage; writes change the tensor).</summary>
    public byte[] RawData { get; }

    /// <summary>The elements as <typeparamref name="T"/>; valid while this tensor lives.</summary>
    /// <exception cref="InvalidOperationException">T does not match the element type.</exception>
    public Span<T> AsSpan<T>() where T : unmanaged
    {
        var expected = ElementTypes.Of<T>();
        if (expected != ElementType)
            throw new InvalidOperationException($"Tensor holds {ElementType}, not {expected}.");
        return MemoryMarshal.Cast<byte, T>(RawData.AsSpan());
    }

    /// <summary>Creates a tensor from elements (copied) and a shape.</summary>
    public static Tensor FromArray<T>(ReadOnlySpan<T> values, params long[] shape) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(values).ToArray();
        return new Tensor(ElementTypes.Of<T>(), shape, bytes);
    }

    /// <summary>Creates a zero-filled tensor.</summary>
    public static Tensor Zeros(ElementType elementType, params long[] shape)
    {
        long count = CountElements(shape);
        return new Tensor(elementType, shape, new byte[ElementTypes.ByteCount(elementType, count)]);
    }

    /// <summary>A scalar (rank 0) tensor.</summary>
    public static Tensor Scalar<T>(T value) where T : unmanaged => FromArray<T>([value]);

    /// <summary>The elements converted to float (from float, double, float16, bfloat16 and the integer types).</summary>
    public float[] ToFloatArray()
    {
        var result = new float[ElementCount];
        switch (ElementType)
        {
            case ElementType.Float: AsSpan<float>().CopyTo(result); break;
            case ElementType.Double: System.Numerics.Tensors.TensorPrimitives.ConvertTruncating<double, float>(AsSpan<double>(), result); break;
            case ElementType.Float16: System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(AsSpan<Half>(), result); break;
            case ElementType.BFloat16: { var s = AsSpan<BFloat16>(); for (int i = 0; i < s.Length; i++) result[i] = (float)s[i]; break; }
            case ElementType.Int64: { var s = AsSpan<long>(); for (int i = 0; i < s.Length; i++) result[i] = s[i]; break; }
            case ElementType.Int32: { var s = AsSpan<int>(); for (int i = 0; i < s.Length; i++) result[i] = s[i]; break; }
            case ElementType.Int16: { var s = AsSpan<short>(); for (int i = 0; i < s.Length; i++) result[i] = s[i]; break; }
            case ElementType.Int8: { var s = AsSpan<sbyte>(); for (int i = 0; i < s.Length; i++) result[i] = s[i]; break; }
            case ElementType.UInt8: { var s = AsSpan<byte>(); for (int i = 0; i < s.Length; i++) result[i] = s[i]; break; }
            case ElementType.Bool: { var s = AsSpan<bool>(); for (int i = 0; i < s.Length; i++) result[i] = s[i] ? 1 : 0; break; }
            default: throw new UnsupportedElementTypeException($"Cannot convert a {ElementType} tensor {FormatShape(Shape.ToArray())} to float.");
        }
        return result;
    }

    /// <summary>The elements converted to long (from the integer types; used for shape-like constants).</summary>
    public long[] ToInt64Array()
    {
        var result = new long[ElementCount];
        switch (ElementType)
        {
            case ElementType.Int64: AsSpan<long>().CopyTo(result); break;
            case ElementType.Int32: { var s = AsSpan<int>(); for (int i = 0; i < s.Length; i++) result[i] = s[i]; break; }
            case ElementType.Int16: { var s = AsSpan<short>(); for (int i = 0; i < s.Length; i++) result[i] = s[i]; break; }
            case ElementType.Int8: { var s = AsSpan<sbyte>(); for (int i = 0; i < s.Length; i++) result[i] = s[i]; break; }
            case ElementType.UInt8: { var s = AsSpan<byte>(); for (int i = 0; i < s.Length; i++) result[i] = s[i]; break; }
            case ElementType.UInt32: { var s = AsSpan<uint>(); for (int i = 0; i < s.Length; i++) result[i] = s[i]; break; }
            case ElementType.UInt64: { var s = AsSpan<ulong>(); for (int i = 0; i < s.Length; i++) result[i] = (long)s[i]; break; }
            case ElementType.Bool: { var s = AsSpan<bool>(); for (int i = 0; i < s.Length; i++) result[i] = s[i] ? 1 : 0; break; }
            default: throw new UnsupportedElementTypeException($"Cannot convert a {ElementType} tensor {FormatShape(Shape.ToArray())} to int64.");
        }
        return result;
    }

    /// <summary>Product of dimensions, validating that none is negative.</summary>
    public static long CountElements(ReadOnlySpan<long> shape)
    {
        long count = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"Negative dimension {d} in tensor shape.", nameof(shape));
            if (d != 0 && count > long.MaxValue / 16 / d)
                throw new ArgumentException($"Tensor shape {FormatShape(shape)} has too many elements.", nameof(shape));
            count *= d;
        }
        return count;
    }

    /// <summary>Shape as text, e.g. <c>[64,3,3,3]</c>.</summary>
    public static string FormatShape(ReadOnlySpan<long> shape) => "[" + string.Join(",", shape.ToArray()) + "]";

    /// <inheritdoc/>
    public override string ToString() => $"{ElementTypes.OnnxName(ElementType)}{FormatShape(_shape)}";
}
