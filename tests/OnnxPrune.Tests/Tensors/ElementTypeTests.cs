using System.Text.Json;
using Google.Protobuf;
using OnnxPrune.Graph;
using OnnxPrune.Onnx;
using OnnxPrune.Onnx.Proto;
using OnnxPrune.Tensors;
using DataType = OnnxPrune.Onnx.Proto.TensorProto.Types.DataType;

namespace OnnxPrune.Tests.Tensors;

/// <summary>Each element type round-trips through Tensor, TensorProto (raw and typed fields), a saved file, and the
/// onnx Python package's reading of that file.</summary>
public class ElementTypeTests
{
    // Values per type, chosen to include negatives, extremes and non-trivial fractions; double is the reference.
    private static readonly double[] Reference = [0, 1, -1, 0.5, -2.75, 100, 3.140625, -0.0078125];

    private static IEnumerable<TestCaseData> Cases()
    {
        yield return Make<float>(DataType.Float, Reference.Select(v => (float)v).ToArray(), v => v);
        yield return Make<double>(DataType.Double, Reference, v => v);
        yield return Make<Half>(DataType.Float16, Reference.Select(v => (Half)v).ToArray(), v => (double)v);
        yield return Make<BFloat16>(DataType.Bfloat16, Reference.Select(v => (BFloat16)(float)v).ToArray(), v => (float)v);
        yield return Make<sbyte>(DataType.Int8, [0, 1, -1, 127, -128, 5, -7, 100], v => v);
        yield return Make<short>(DataType.Int16, [0, 1, -1, short.MaxValue, short.MinValue, 300, -300, 7], v => v);
        yield return Make<int>(DataType.Int32, [0, 1, -1, int.MaxValue, int.MinValue, 70000, -70000, 7], v => v);
        yield return Make<long>(DataType.Int64, [0, 1, -1, 1L << 40, -(1L << 40), 5, -5, 1L << 52], v => v);
        yield return Make<byte>(DataType.Uint8, [0, 1, 255, 128, 127, 2, 3, 4], v => v);
        yield return Make<bool>(DataType.Bool, [true, false, true, true, false, false, true, false], v => v ? 1 : 0);
    }

    private static TestCaseData Make<T>(DataType onnxType, T[] values, Func<T, double> toDouble) where T : unmanaged =>
        new TestCaseData(new Case<T>(onnxType, values, toDouble)).SetName($"{{m}}({typeof(T).Name})");

    /// <summary>One element type's test values.</summary>
    public interface ICase
    {
        /// <summary>Runs the checks.</summary>
        void RoundTrip();
        /// <summary>The tensor and the expected values as doubles.</summary>
        (Tensor Tensor, double[] Expected) Data();
    }

    private sealed record Case<T>(DataType OnnxType, T[] Values, Func<T, double> ToDouble) : ICase where T : unmanaged
    {
        public (Tensor, double[]) Data() => (Tensor.FromArray<T>(Values, 2, 4), Values.Select(ToDouble).ToArray());

        public void RoundTrip()
        {
            // Our numbering is ONNX's (the generated enum is checked against the official schema).
            Assert.That((int)ElementTypes.Of<T>(), Is.EqualTo((int)OnnxType));
            var tensor = Tensor.FromArray<T>(Values, 2, 4);
            Assert.That(tensor.ElementType, Is.EqualTo((ElementType)(int)OnnxType));
            Assert.That(tensor.RawData, Has.Length.EqualTo(ElementTypes.ByteCount(tensor.ElementType, 8)));
            Assert.That(tensor.AsSpan<T>().ToArray(), Is.EqualTo(Values));

            // raw_data: through bytes and back.
            var proto = TensorProtoConverter.FromTensor(tensor, "t");
            var parsed = TensorProto.Parser.ParseFrom(proto.ToByteArray());
            var back = TensorProtoConverter.ToTensor(parsed);
            Assert.That(back.Shape, Is.EqualTo(new long[] { 2, 4 }));
            Assert.That(back.AsSpan<T>().ToArray(), Is.EqualTo(Values));

            // float conversion agrees with the reference values rounded to float.
            Assert.That(tensor.ToFloatArray(), Is.EqualTo(Values.Select(v => (float)ToDouble(v))));
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void RoundTripsThroughRawData(ICase c) => c.RoundTrip();

    [Test]
    public void TypedFieldsDecodeAsOnnxDefinesThem()
    {
        // ONNX stores 8/16-bit types and bool in int32_data (float16/bfloat16 as their bit patterns), uint32 in uint64_data.
        TensorProto P(DataType t, params long[] dims)
        {
            var p = new TensorProto { DataType = (int)t, Name = t.ToString() };
            p.Dims.AddRange(dims);
            return p;
        }
        var h = P(DataType.Float16, 2); h.Int32Data.Add(BitConverter.HalfToUInt16Bits((Half)1.5)); h.Int32Data.Add(BitConverter.HalfToUInt16Bits((Half)(-2)));
        Assert.That(TensorProtoConverter.ToTensor(h).AsSpan<Half>().ToArray(), Is.EqualTo(new[] { (Half)1.5, (Half)(-2) }));
        var bf = P(DataType.Bfloat16, 2); bf.Int32Data.Add(16320); bf.Int32Data.Add(49152); // onnx.helper.make_tensor's bits for 1.5, -2
        Assert.That(TensorProtoConverter.ToTensor(bf).ToFloatArray(), Is.EqualTo(new[] { 1.5f, -2f }));
        var i8 = P(DataType.Int8, 3); i8.Int32Data.AddRange([-128, 127, -1]);
        Assert.That(TensorProtoConverter.ToTensor(i8).AsSpan<sbyte>().ToArray(), Is.EqualTo(new sbyte[] { -128, 127, -1 }));
        var b = P(DataType.Bool, 3); b.Int32Data.AddRange([1, 0, 1]);
        Assert.That(TensorProtoConverter.ToTensor(b).AsSpan<bool>().ToArray(), Is.EqualTo(new[] { true, false, true }));
        var u32 = P(DataType.Uint32, 2); u32.Uint64Data.AddRange([uint.MaxValue, 7]);
        Assert.That(TensorProtoConverter.ToTensor(u32).AsSpan<uint>().ToArray(), Is.EqualTo(new[] { uint.MaxValue, 7u }));
        var d = P(DataType.Double, 2); d.DoubleData.AddRange([0.1, -1e300]);
        Assert.That(TensorProtoConverter.ToTensor(d).AsSpan<double>().ToArray(), Is.EqualTo(new[] { 0.1, -1e300 }));
        var scalar = P(DataType.Int64); scalar.Int64Data.Add(-42);
        var s = TensorProtoConverter.ToTensor(scalar);
        Assert.That(s.Rank, Is.Zero);
        Assert.That(s.AsSpan<long>().ToArray(), Is.EqualTo(new[] { -42L }));
        var empty = P(DataType.Float, 0, 3);
        Assert.That(TensorProtoConverter.ToTensor(empty).ElementCount, Is.Zero);
    }

    [Test]
    public void SavedFileReadsTheSameInPython()
    {
        var cases = Cases().Select(c => (ICase)c.Arguments[0]!).ToArray();
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 2, 4);
        var expected = new Dictionary<string, (ElementType Type, double[] Values)>();
        foreach (var c in cases)
        {
            var (tensor, values) = c.Data();
            var name = ElementTypes.OnnxName(tensor.ElementType);
            b.Initializer(name, tensor);
            expected[name] = (tensor.ElementType, values);
        }
        b.Output(b.Relu(x), ElementType.Float, 2, 4);
        var dir = TestPaths.TempDir();
        try
        {
            var path = Path.Combine(dir, "types.onnx");
            b.Build().Save(path);
            var reloaded = OnnxModel.Load(path);
            foreach (var c in reloaded.Graph.Initializers)
                Assert.That(c.Data.ElementType, Is.EqualTo(expected[c.Name].Type));

            var py = Processes.RunPython("tensor_values.py", path);
            Assert.That(py.ExitCode, Is.Zero, py.ToString());
            using var json = JsonDocument.Parse(py.StdOut);
            Assert.That(json.RootElement.EnumerateObject().Select(p => p.Name), Is.EquivalentTo(expected.Keys));
            foreach (var (name, (type, values)) in expected)
            {
                var t = json.RootElement.GetProperty(name);
                Assert.That(t.GetProperty("dataType").GetInt32(), Is.EqualTo((int)type), name);
                Assert.That(t.GetProperty("dims").EnumerateArray().Select(d => d.GetInt64()), Is.EqualTo(new long[] { 2, 4 }), name);
                Assert.That(t.GetProperty("values").EnumerateArray().Select(v => v.GetDouble()), Is.EqualTo(values), name);
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
