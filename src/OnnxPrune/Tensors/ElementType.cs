namespace OnnxPrune.Tensors;

/// <summary>Tensor element types, numbered exactly as ONNX's <c>TensorProto.DataType</c>.</summary>
public enum ElementType
{
    /// <summary>Not set.</summary>
    Undefined = 0,
    /// <summary>32-bit IEEE float.</summary>
    Float = 1,
    /// <summary>Unsigned 8-bit integer.</summary>
    UInt8 = 2,
    /// <summary>Signed 8-bit integer.</summary>
    Int8 = 3,
    /// <summary>Unsigned 16-bit integer.</summary>
    UInt16 = 4,
    /// <summary>Signed 16-bit integer.</summary>
    Int16 = 5,
    /// <summary>Signed 32-bit integer.</summary>
    Int32 = 6,
    /// <summary>Signed 64-bit integer.</summary>
    Int64 = 7,
    /// <summary>UTF-8 string (not a fixed-size type).</summary>
    String = 8,
    /// <summary>Boolean stored as one byte.</summary>
    Bool = 9,
    /// <summary>16-bit IEEE float (<see cref="System.Half"/>).</summary>
    Float16 = 10,
    /// <summary>64-bit IEEE float.</summary>
    Double = 11,
    /// <summary>Unsigned 32-bit integer.</summary>
    UInt32 = 12,
    /// <summary>Unsigned 64-bit integer.</summary>
    UInt64 = 13,
    /// <summary>Two 32-bit floats.</summary>
    Complex64 = 14,
    /// <summary>Two 64-bit floats.</summary>
    Complex128 = 15,
    /// <summary>Brain float: the upper 16 bits of a 32-bit float.</summary>
    BFloat16 = 16,
    /// <summary>8-bit float E4M3, finite only.</summary>
    Float8E4M3FN = 17,
    /// <summary>8-bit float E4M3, finite, no negative zero.</summary>
    Float8E4M3FNUZ = 18,
    /// <summary>8-bit float E5M2.</summary>
    Float8E5M2 = 19,
    /// <summary>8-bit float E5M2, finite, no negative zero.</summary>
    Float8E5M2FNUZ = 20,
    /// <summary>Unsigned 4-bit integer, two per byte.</summary>
    UInt4 = 21,
    /// <summary>Signed 4-bit integer, two per byte.</summary>
    Int4 = 22,
    /// <summary>4-bit float E2M1, two per byte.</summary>
    Float4E2M1 = 23,
}

/// <summary>Facts about <see cref="ElementType"/> values.</summary>
public static class ElementTypes
{
    /// <summary>Bytes per element in ONNX's raw (little-endian) layout; 0 for strings and sub-byte types.</summary>
    public static int SizeOf(ElementType type) => type switch
    {
        ElementType.Float or ElementType.Int32 or ElementType.UInt32 => 4,
        ElementType.UInt8 or ElementType.Int8 or ElementType.Bool => 1,
        ElementType.Float8E4M3FN or ElementType.Float8E4M3FNUZ or ElementType.Float8E5M2 or ElementType.Float8E5M2FNUZ => 1,
        ElementType.UInt16 or ElementType.Int16 or ElementType.Float16 or ElementType.BFloat16 => 2,
        ElementType.Int64 or ElementType.UInt64 or ElementType.Double or ElementType.Complex64 => 8,
        ElementType.Complex128 => 16,
        _ => 0,
    };

    /// <summary>Bytes needed to store <paramref name="count"/> elements in raw layout (sub-byte types packed two per byte).</summary>
    /// <exception cref="OverflowException">The byte count does not fit in a long.</exception>
    public static long ByteCount(ElementType type, long count) => type switch
    {
        ElementType.UInt4 or ElementType.Int4 or ElementType.Float4E2M1 => (count + 1) / 2,
        _ => checked(count * SizeOf(type)),
    };

    /// <summary>True for the floating-point types that hold trainable parameters: float, double, float16, bfloat16.</summary>
    public static bool IsFloatingPoint(ElementType type) =>
        type is ElementType.Float or ElementType.Double or ElementType.Float16 or ElementType.BFloat16;

    /// <summary>The element type that stores CLR type <typeparamref name="T"/>.</summary>
    /// <exception cref="NotSupportedException">T has no ONNX element type.</exception>
    public static ElementType Of<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return ElementType.Float;
        if (typeof(T) == typeof(double)) return ElementType.Double;
        if (typeof(T) == typeof(Half)) return ElementType.Float16;
        if (typeof(T) == typeof(BFloat16)) return ElementType.BFloat16;
        if (typeof(T) == typeof(long)) return ElementType.Int64;
        if (typeof(T) == typeof(int)) return ElementType.Int32;
        if (typeof(T) == typeof(short)) return ElementType.Int16;
        if (typeof(T) == typeof(sbyte)) return ElementType.Int8;
        if (typeof(T) == typeof(byte)) return ElementType.UInt8;
        if (typeof(T) == typeof(ushort)) return ElementType.UInt16;
        if (typeof(T) == typeof(uint)) return ElementType.UInt32;
        if (typeof(T) == typeof(ulong)) return ElementType.UInt64;
        if (typeof(T) == typeof(bool)) return ElementType.Bool;
        throw new NotSupportedException($"CLR type {typeof(T).Name} has no ONNX element type.");
    }

    /// <summary>The name ONNX uses in type strings, e.g. <c>tensor(float)</c>.</summary>
    public static string OnnxName(ElementType type) => type switch
    {
        ElementType.Float => "float",
        ElementType.Float16 => "float16",
        ElementType.BFloat16 => "bfloat16",
        ElementType.Double => "double",
        ElementType.Bool => "bool",
        _ => type.ToString().ToLowerInvariant(),
    };
}
