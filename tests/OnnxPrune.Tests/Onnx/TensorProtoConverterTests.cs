using Google.Protobuf;
using NUnit.Framework;
using OnnxPrune.Onnx;
using OnnxPrune.Onnx.Proto;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Onnx;

public class TensorProtoConverterTests
{
    private static TensorProto Proto(ElementType type, params long[] dims)
    {
        var p = new TensorProto { Name = "t", DataType = (int)type };
        p.Dims.AddRange(dims);
        return p;
    }

    [Test]
    public void Raw_data_round_trips()
    {
        var t = Tensor.FromArray<float>([1.5f, -2f, 3f, 4f, 5f, 6f], 2, 3);
        var proto = TensorProtoConverter.FromTensor(t, "w");
        Assert.That(proto.HasRawData, Is.True);
        Assert.That(proto.Name, Is.EqualTo("w"));
        var back = TensorProtoConverter.ToTensor(TensorProto.Parser.ParseFrom(proto.ToByteArray()));
        Assert.That(back.Shape, Is.EqualTo(new long[] { 2, 3 }));
        Assert.That(back.RawData, Is.EqualTo(t.RawData));
    }

    [Test]
    public void Typed_fields_are_read()
    {
        var f = Proto(ElementType.Float, 3); f.FloatData.AddRange([1f, 2f, 3f]);
        Assert.That(TensorProtoConverter.ToTensor(f).AsSpan<float>().ToArray(), Is.EqualTo(new[] { 1f, 2f, 3f }));
        var d = Proto(ElementType.Double, 2); d.DoubleData.AddRange([0.25, -8]);
        Assert.That(TensorProtoConverter.ToTensor(d).AsSpan<double>().ToArray(), Is.EqualTo(new[] { 0.25, -8 }));
        var l = Proto(ElementType.Int64, 2); l.Int64Data.AddRange([long.MaxValue, -1]);
        Assert.That(TensorProtoConverter.ToTensor(l).AsSpan<long>().ToArray(), Is.EqualTo(new[] { long.MaxValue, -1L }));
        var i = Proto(ElementType.Int32, 2); i.Int32Data.AddRange([7, -7]);
        Assert.That(TensorProtoConverter.ToTensor(i).AsSpan<int>().ToArray(), Is.EqualTo(new[] { 7, -7 }));
        var b = Proto(ElementType.Bool, 3); b.Int32Data.AddRange([1, 0, 1]);
        Assert.That(TensorProtoConverter.ToTensor(b).AsSpan<bool>().ToArray(), Is.EqualTo(new[] { true, false, true }));
        var s = Proto(ElementType.Int8, 2); s.Int32Data.AddRange([-3, 100]);
        Assert.That(TensorProtoConverter.ToTensor(s).AsSpan<sbyte>().ToArray(), Is.EqualTo(new sbyte[] { -3, 100 }));
        var h = Proto(ElementType.Float16, 2); h.Int32Data.AddRange([BitConverter.HalfToUInt16Bits((Half)1.5f), BitConverter.HalfToUInt16Bits((Half)(-2f))]);
        Assert.That(TensorProtoConverter.ToTensor(h).AsSpan<Half>().ToArray(), Is.EqualTo(new[] { (Half)1.5f, (Half)(-2f) }));
        var u = Proto(ElementType.UInt32, 1); u.Uint64Data.Add(4_000_000_000);
        Assert.That(TensorProtoConverter.ToTensor(u).AsSpan<uint>()[0], Is.EqualTo(4_000_000_000u));
        var scalar = Proto(ElementType.Float); scalar.FloatData.Add(9f);
        Assert.That(TensorProtoConverter.ToTensor(scalar).Rank, Is.EqualTo(0));
    }

    [Test]
    public void Wrong_value_count_is_a_format_error()
    {
        var f = Proto(ElementType.Float, 3); f.FloatData.AddRange([1f, 2f]);
        Assert.Throws<OnnxFormatException>(() => TensorProtoConverter.ToTensor(f));
        var r = Proto(ElementType.Float, 3); r.RawData = ByteString.CopyFrom(new byte[8]);
        Assert.Throws<OnnxFormatException>(() => TensorProtoConverter.ToTensor(r));
    }

    [Test]
    public void Strings_are_unsupported()
    {
        var p = Proto(ElementType.String, 1); p.StringData.Add(ByteString.CopyFromUtf8("a"));
        Assert.Throws<UnsupportedModelException>(() => TensorProtoConverter.ToTensor(p));
    }

    [Test]
    public void External_data_is_read_relative_to_base_directory()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"onnxprune-ext-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var data = new byte[16];
            BitConverter.GetBytes(42f).CopyTo(data, 8);
            BitConverter.GetBytes(-1f).CopyTo(data, 12);
            File.WriteAllBytes(Path.Combine(dir, "w.bin"), data);
            var p = Proto(ElementType.Float, 2);
            p.DataLocation = TensorProto.Types.DataLocation.External;
            p.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "w.bin" });
            p.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "8" });
            p.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = "8" });
            Assert.That(TensorProtoConverter.ToTensor(p, dir).AsSpan<float>().ToArray(), Is.EqualTo(new[] { 42f, -1f }));
            Assert.Throws<OnnxFormatException>(() => TensorProtoConverter.ToTensor(p));
        }
        finally { Directory.Delete(dir, true); }
    }
}
