using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxPrune.Tensors;
using Tensor = OnnxPrune.Tensors.Tensor;

namespace OnnxPrune.Runtime;

/// <summary>Conversions between OnnxPrune <see cref="Tensor"/>s and ONNX Runtime <see cref="OrtValue"/>s.</summary>
/// <remarks>OnnxPrune's <see cref="ElementType"/> and ONNX Runtime's <see cref="TensorElementType"/> both use ONNX's TensorProto numbering.</remarks>
public static class OrtTensors
{
    // ORT wants a valid data pointer even for empty tensors.
    private static readonly byte[] EmptyData = GC.AllocateArray<byte>(1, pinned: true);

    /// <summary>Copies a tensor <see cref="OrtValue"/> (in CPU memory) into a new <see cref="Tensor"/> owned by the caller.</summary>
    /// <param name="value">The value.</param>
    /// <param name="name">Its name, for error messages.</param>
    /// <exception cref="OrtCallException">The value is not a tensor, or its element type cannot be held by an OnnxPrune tensor (strings).</exception>
    public static Tensor ToTensor(OrtValue value, string name = "value")
    {
        ArgumentNullException.ThrowIfNull(value);
        var (type, dims) = ReadShape(value, name);
        var bytes = new byte[ElementTypes.ByteCount(type, Tensor.CountElements(dims))];
        if (bytes.Length > 0) value.GetTensorDataAsSpan<byte>().CopyTo(bytes);
        return new Tensor(type, dims, bytes);
    }

    /// <summary>Element type and shape of a tensor value.</summary>
    /// <exception cref="OrtCallException">Not a tensor, or an element type OnnxPrune tensors cannot hold.</exception>
    public static (ElementType Type, long[] Dims) ReadShape(OrtValue value, string name = "value")
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.OnnxType != OnnxValueType.ONNX_TYPE_TENSOR)
            throw new OrtCallException(OrtErrorCode.NotImplemented, $"'{name}' is a {value.OnnxType}; OnnxPrune only handles tensors.");
        var info = value.GetTensorTypeAndShape();
        var type = (ElementType)(int)info.ElementDataType;
        if (ElementTypes.ByteCount(type, 1) == 0)
            throw new OrtCallException(OrtErrorCode.NotImplemented, $"'{name}' has element type {type}, which OnnxPrune tensors cannot hold.");
        return (type, info.Shape);
    }

    /// <summary>
    /// An <see cref="OrtValue"/> over <paramref name="data"/> without copying. The caller keeps <paramref name="data"/>
    /// pinned (a pinned-object-heap array, or a <see cref="GCHandle"/>) for as long as the value is used.
    /// </summary>
    internal static unsafe OrtValue CreatePinnedView(ElementType type, long[] dims, byte[] data)
    {
        var buffer = data.Length == 0 ? EmptyData : data;
        fixed (byte* p = buffer) // the array is already pinned by the caller: its address is stable after this block
            return OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, (TensorElementType)(int)type, dims, (IntPtr)p, data.Length);
    }

    /// <summary>A copy of <paramref name="source"/> in the pinned object heap (address fixed for its whole life).</summary>
    internal static Tensor PinnedCopy(Tensor source)
    {
        var bytes = GC.AllocateUninitializedArray<byte>(source.RawData.Length, pinned: true);
        source.RawData.CopyTo(bytes, 0);
        return new Tensor(source.ElementType, source.Dims, bytes);
    }
}
