using Google.Protobuf;
using OnnxPrune.Onnx;
using OnnxPrune.Onnx.Proto;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests;

/// <summary>Message comparisons with short failure messages (a model's JSON is megabytes).</summary>
public static class Messages
{
    /// <summary>Asserts two models are equal messages; on failure names the first differing part.</summary>
    public static void AssertEqual(ModelProto expected, ModelProto actual, string what)
    {
        if (expected.Equals(actual)) return;
        Assert.Fail($"{what}: messages differ at {FirstDifference(expected, actual)}");
    }

    /// <summary>A copy where every tensor stored in typed fields (float_data, int32_data, ...) is stored as
    /// raw_data instead, if it holds at least <paramref name="minBytes"/>: external data files can only hold the
    /// raw form, so a round trip through them changes the storage form of such tensors, never their values.</summary>
    public static ModelProto WithRawData(ModelProto model, long minBytes = 0)
    {
        var copy = model.Clone();
        ModelTensors.ForEach(copy, (t, _) =>
        {
            if (t.HasRawData || ExternalData.IsExternal(t) || (ElementType)t.DataType is ElementType.String or ElementType.Undefined) return;
            if (!TensorProtoConverter.HasData(t)) return;
            if (ElementTypes.ByteCount((ElementType)t.DataType, TensorProtoConverter.ElementCount(t)) < minBytes) return;
            var raw = TensorProtoConverter.ToTensor(t).RawData;
            t.FloatData.Clear(); t.Int32Data.Clear(); t.Int64Data.Clear(); t.DoubleData.Clear(); t.Uint64Data.Clear();
            t.RawData = ByteString.CopyFrom(raw);
        });
        return copy;
    }

    /// <summary>True when some tensor keeps its values in typed fields.</summary>
    public static bool HasTypedFieldTensors(ModelProto model)
    {
        bool any = false;
        ModelTensors.ForEach(model, (t, _) =>
        {
            if (!t.HasRawData && (ElementType)t.DataType != ElementType.String && TensorProtoConverter.HasData(t) && !ExternalData.IsExternal(t)) any = true;
        });
        return any;
    }

    private static string FirstDifference(IMessage a, IMessage b, string path = "model")
    {
        foreach (var field in a.Descriptor.Fields.InFieldNumberOrder())
        {
            var x = field.Accessor.GetValue(a);
            var y = field.Accessor.GetValue(b);
            if (Equals(x, y)) continue;
            if (x is IMessage mx && y is IMessage my) return FirstDifference(mx, my, $"{path}.{field.Name}");
            if (x is System.Collections.IList lx && y is System.Collections.IList ly)
            {
                if (lx.Count != ly.Count) return $"{path}.{field.Name}: {lx.Count} vs {ly.Count} items";
                for (int i = 0; i < lx.Count; i++)
                    if (!Equals(lx[i], ly[i]))
                        return lx[i] is IMessage ix && ly[i] is IMessage iy ? FirstDifference(ix, iy, $"{path}.{field.Name}[{i}]") : $"{path}.{field.Name}[{i}]";
            }
            return $"{path}.{field.Name}";
        }
        return $"{path} (unknown fields)";
    }
}
