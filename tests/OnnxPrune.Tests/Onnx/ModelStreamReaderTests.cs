using Google.Protobuf;
using OnnxPrune.Graph;
using OnnxPrune.Onnx;
using OnnxPrune.Onnx.Proto;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Onnx;

/// <summary>The file loader that reads raw_data straight into per-tensor arrays gives the message Google.Protobuf
/// parses from the same bytes, for every shared model and for hand-made edge cases; files it cannot take fall back
/// to the ordinary parser and its errors.</summary>
public class ModelStreamReaderTests
{
    private static string Temp(string name) => Path.Combine(TestContext.CurrentContext.WorkDirectory, $"{nameof(ModelStreamReaderTests)}_{name}");

    [TestCaseSource(typeof(TestPaths), nameof(TestPaths.SharedModelNames))]
    public void SharedModelsParseToTheSameMessage(string name)
    {
        var path = Path.Combine(TestPaths.SharedModels, name);
        var expected = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        var streamed = ModelStreamReader.TryRead(path);
        Assert.That(streamed, Is.Not.Null);
        Assert.That(streamed, Is.EqualTo(expected));
        Assert.That(streamed!.ToByteArray(), Is.EqualTo(expected.ToByteArray()));
    }

    // Fields around and between the intercepted ones: several graphs fields, raw_data twice, doc strings, metadata,
    // external-data entries, an unknown field inside a tensor and inside the graph, initializers between nodes.
    [Test]
    public void EdgeCasesParseToTheSameMessage()
    {
        var t1 = new TensorProto { Name = "w", DataType = (int)ElementType.Float, DocString = "doc" };
        t1.Dims.AddRange([2L, 2L]);
        t1.RawData = ByteString.CopyFrom(new byte[16]);
        t1.MetadataProps.Add(new StringStringEntryProto { Key = "k", Value = "v" });
        var t2 = new TensorProto { Name = "b", DataType = (int)ElementType.Int64 };
        t2.Dims.Add(3);
        t2.Int64Data.AddRange([1L, 2L, 3L]);
        var graph = new GraphProto { Name = "g" };
        graph.Node.Add(new NodeProto { OpType = "Identity", Input = { "w" }, Output = { "y" } });
        graph.Initializer.Add(t1);
        graph.Initializer.Add(t2);
        var model = new ModelProto { IrVersion = 8, ProducerName = "test", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Version = 17 });

        var bytes = new MemoryStream();
        var output = new CodedOutputStream(bytes);
        model.WriteTo(output);
        // A second graph field (merged into the first), with an initializer whose raw_data appears twice and an
        // unknown field 99 in the tensor and 98 in the graph.
        var extra = new MemoryStream();
        var extraOut = new CodedOutputStream(extra);
        var t3 = new TensorProto { Name = "v", DataType = (int)ElementType.UInt8 };
        t3.Dims.Add(2);
        var t3Bytes = new MemoryStream();
        var t3Out = new CodedOutputStream(t3Bytes);
        t3.WriteTo(t3Out);
        t3Out.WriteTag(9, WireFormat.WireType.LengthDelimited);
        t3Out.WriteBytes(ByteString.CopyFrom(9, 9));
        t3Out.WriteTag(99, WireFormat.WireType.Varint);
        t3Out.WriteInt64(5);
        t3Out.WriteTag(9, WireFormat.WireType.LengthDelimited);
        t3Out.WriteBytes(ByteString.CopyFrom(1, 2));
        t3Out.Flush();
        extraOut.WriteTag(5, WireFormat.WireType.LengthDelimited);
        extraOut.WriteBytes(ByteString.CopyFrom(t3Bytes.ToArray()));
        extraOut.WriteTag(98, WireFormat.WireType.Fixed32);
        extraOut.WriteFixed32(7);
        extraOut.Flush();
        output.WriteTag(7, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(extra.ToArray()));
        output.WriteTag(3, WireFormat.WireType.LengthDelimited);
        output.WriteString("after");
        output.Flush();

        var path = Temp("edge.onnx");
        File.WriteAllBytes(path, bytes.ToArray());
        var expected = ModelProto.Parser.ParseFrom(bytes.ToArray());
        var streamed = ModelStreamReader.TryRead(path);
        Assert.That(streamed, Is.EqualTo(expected));
        Assert.That(streamed!.Graph.Initializer.Select(t => t.Name), Is.EqualTo(new[] { "w", "b", "v" }));
        Assert.That(streamed.Graph.Initializer[2].RawData.ToByteArray(), Is.EqualTo(new byte[] { 1, 2 }), "the last raw_data wins");
        Assert.That(streamed.ProducerVersion, Is.EqualTo("after"));
        Assert.That(streamed.ToByteArray(), Is.EqualTo(expected.ToByteArray()));
    }

    [Test]
    public void TruncatedOrCorruptFilesFallBackToTheParsersErrors()
    {
        var good = File.ReadAllBytes(Path.Combine(TestPaths.SharedModels, "mnist_ortexamples.onnx"));
        foreach (var length in new[] { 3, good.Length / 2, good.Length - 1 })
        {
            var path = Temp($"truncated{length}.onnx");
            File.WriteAllBytes(path, good.AsSpan(0, length).ToArray());
            Assert.That(ModelStreamReader.TryRead(path), Is.Null, $"{length} bytes");
            var e = Assert.Throws<OnnxFormatException>(() => ModelIO.Load(path));
            Assert.That(e!.Message, Does.StartWith(path));
        }
        var garbage = Temp("garbage.onnx");
        File.WriteAllBytes(garbage, [0x0f, 0xff, 0xff, 0xff]);
        Assert.That(ModelStreamReader.TryRead(garbage), Is.Null);
        Assert.Throws<OnnxFormatException>(() => ModelIO.Load(garbage));
    }

    [Test]
    public void LoadedWeightsAreReadOnceAndStayIndependentOfMessagesHandedOut()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.Float, 1, 4);
        var w = b.Initializer("w", [1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f], 2, 4);
        b.Output(b.Gemm(x, w, transB: true), ElementType.Float, 1, 2);
        var path = Temp("weights.onnx");
        b.Build().Save(path);

        var model = OnnxModel.Load(path);
        var constant = model.Graph.Initializers.Single(c => c.Name == "w");
        var before = model.ToProto();
        var copy = OnnxModel.FromBytes(model.ToBytes());
        var userProto = ModelIO.Load(path);
        var fromUser = OnnxModel.FromProto(userProto);

        constant.Data.AsSpan<float>()[0] = 42;
        fromUser.Graph.Initializers.Single(c => c.Name == "w").Data.AsSpan<float>()[1] = -1;

        Assert.That(Floats(model.ToProto()), Is.EqualTo(new[] { 42f, 2, 3, 4, 5, 6, 7, 8 }), "the model exports its current data");
        Assert.That(Floats(before), Is.EqualTo(new[] { 1f, 2, 3, 4, 5, 6, 7, 8 }), "a message handed out earlier does not change");
        Assert.That(copy.Graph.Initializers.Single(c => c.Name == "w").Data.AsSpan<float>()[0], Is.EqualTo(1f), "a copy does not change");
        Assert.That(Floats(userProto), Is.EqualTo(new[] { 1f, 2, 3, 4, 5, 6, 7, 8 }), "a caller's message is never written through");
        var saved = Temp("weights-saved.onnx");
        model.Save(saved);
        Assert.That(Floats(ModelIO.Load(saved)), Is.EqualTo(new[] { 42f, 2, 3, 4, 5, 6, 7, 8 }));
    }

    private static float[] Floats(ModelProto model) =>
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(model.Graph.Initializer.Single(t => t.Name == "w").RawData.Span).ToArray();
}
