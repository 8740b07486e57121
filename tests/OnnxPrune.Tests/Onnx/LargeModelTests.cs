using System.Diagnostics;
using OnnxPrune.Graph;
using OnnxPrune.Onnx;
using OnnxPrune.Onnx.Proto;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Onnx;

/// <summary>Models above protobuf's 2 GiB message limit: saved with external data automatically, reloaded intact;
/// never serialized as one oversized message.</summary>
public class LargeModelTests
{
    private const long TensorBytes = 800L << 20; // 800 MiB each; three of them: 2.34 GiB > 2 GiB

    // Cheap, position-dependent content: zero pages except one marker every 1 MiB.
    private static byte Marker(int tensor, long offset) => (byte)(1 + tensor * 31 + (offset >> 20) % 200);

    private static byte[] Weights(int tensor)
    {
        var data = new byte[TensorBytes];
        for (long p = 0; p < TensorBytes; p += 1 << 20) data[p] = Marker(tensor, p);
        data[^1] = 0xEE;
        return data;
    }

    [Test]
    [Category("Large")]
    public void ModelAboveTwoGiBGoesExternalAutomaticallyAndReloads()
    {
        var dir = TestPaths.TempDir();
        var watch = Stopwatch.StartNew();
        try
        {
            var path = Path.Combine(dir, "large.onnx");
            long elements = TensorBytes / 4;
            {
                var b = new GraphBuilder();
                var x = b.Input("x", ElementType.Float, elements);
                var y = x;
                for (int i = 0; i < 3; i++)
                    y = b.Add(y, b.Initializer($"w{i}", new Tensor(ElementType.Float, [elements], Weights(i))));
                b.Output(y, ElementType.Float, elements);
                var model = b.Build();
                Assert.That(ModelIO.InlineDataBytes(ToProtoWithoutCopy(model)), Is.GreaterThan(ModelIO.ProtobufLimit));
                model.Save(path); // default: ExternalDataMode.Auto
                TestContext.Out.WriteLine($"built and saved in {watch.Elapsed.TotalSeconds:F1} s; peak working set {Process.GetCurrentProcess().PeakWorkingSet64 >> 20} MiB");
            }
            GC.Collect();
            GC.WaitForPendingFinalizers();

            Assert.That(new FileInfo(path).Length, Is.LessThan(64 << 10), "the model file holds no weights");
            Assert.That(new FileInfo(path + ".data").Length, Is.EqualTo(3 * TensorBytes), "800 MiB is a multiple of the 4 KiB alignment: no padding");
            var raw = ModelIO.Load(path, new ModelLoadOptions { LoadExternalData = false });
            Assert.That(raw.Graph.Initializer.Select(t => t.DataLocation), Is.All.EqualTo(TensorProto.Types.DataLocation.External));

            TestContext.Out.WriteLine($"files checked at {watch.Elapsed.TotalSeconds:F1} s");
            var watchLoad = Stopwatch.StartNew();
            var loaded = OnnxModel.Load(path);
            TestContext.Out.WriteLine($"reloaded in {watchLoad.Elapsed.TotalSeconds:F1} s");
            Assert.That(loaded.Graph.Initializers, Has.Count.EqualTo(3));
            for (int i = 0; i < 3; i++)
            {
                var c = loaded.Graph.Initializers[i];
                Assert.That(c.Name, Is.EqualTo($"w{i}"));
                Assert.That(c.Shape, Is.EqualTo(new[] { elements }));
                var bytes = c.Data.RawData;
                Assert.That(bytes.LongLength, Is.EqualTo(TensorBytes));
                var random = new Random(i);
                for (int k = 0; k < 200; k++)
                {
                    long p = (long)(random.NextDouble() * TensorBytes);
                    byte expected = p % (1 << 20) == 0 ? Marker(i, p) : p == TensorBytes - 1 ? (byte)0xEE : (byte)0;
                    Assert.That(bytes[p], Is.EqualTo(expected), $"w{i} byte {p}");
                }
                for (long p = 0; p < TensorBytes; p += 97L << 20) Assert.That(bytes[p], Is.EqualTo(Marker(i, p)));
                Assert.That(bytes[^1], Is.EqualTo(0xEE));
            }

            TestContext.Out.WriteLine($"checked at {watch.Elapsed.TotalSeconds:F1} s");
            // Nothing that would have to hold all weights in one message is attempted.
            Assert.Throws<UnsupportedModelException>(() => loaded.ToBytes());
            var inline = Path.Combine(dir, "inline.onnx");
            Assert.Throws<UnsupportedModelException>(() => loaded.Save(inline, new ModelSaveOptions { ExternalData = ExternalDataMode.Inline }));
            Assert.That(File.Exists(inline), Is.False);
            TestContext.Out.WriteLine($"total {watch.Elapsed.TotalSeconds:F1} s; peak working set {Process.GetCurrentProcess().PeakWorkingSet64 >> 20} MiB");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    // The message as it will be saved (weights wrapped, not copied).
    private static ModelProto ToProtoWithoutCopy(OnnxModel model) =>
        (ModelProto)typeof(OnnxModel).GetMethod("ToProto", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!
            .Invoke(model, [true])!;

    // The same rule at a small scale: a lowered message limit stands in for protobuf's 2 GiB.

    private static ModelProto ThreeTensors(int bytesEach)
    {
        var b = new GraphBuilder();
        var x = b.Input("x", ElementType.UInt8, bytesEach);
        var y = x;
        for (int i = 0; i < 3; i++)
        {
            var data = new byte[bytesEach];
            new Random(i).NextBytes(data);
            y = b.Add(y, b.Initializer($"w{i}", new Tensor(ElementType.UInt8, [bytesEach], data)));
        }
        b.Output(y, ElementType.UInt8, bytesEach);
        return b.Build().ToProto();
    }

    [Test]
    public void AutoGoesExternalExactlyWhenTheMessageWouldNotFit()
    {
        var dir = TestPaths.TempDir();
        try
        {
            var model = ThreeTensors(100_000); // 300,000 bytes of weights
            var small = Path.Combine(dir, "small.onnx");
            ModelIO.Save(model, small, new ModelSaveOptions { MessageLimit = 1_000_000 });
            Assert.That(File.Exists(small + ".data"), Is.False, "fits: stays inline");
            Assert.That(new FileInfo(small).Length, Is.GreaterThan(300_000));

            var big = Path.Combine(dir, "big.onnx");
            ModelIO.Save(model, big, new ModelSaveOptions { MessageLimit = 250_000 });
            Assert.That(File.Exists(big + ".data"), Is.True, "would not fit: goes external");
            Assert.That(new FileInfo(big).Length, Is.LessThan(250_000), "the written message is within the limit");
            Assert.That(new FileInfo(big + ".data").Length, Is.GreaterThanOrEqualTo(300_000));
            Assert.That(ModelIO.Load(big), Is.EqualTo(model));

            var forced = Path.Combine(dir, "forced.onnx");
            var e = Assert.Throws<UnsupportedModelException>(() =>
                ModelIO.Save(model, forced, new ModelSaveOptions { MessageLimit = 250_000, ExternalData = ExternalDataMode.Inline }));
            Assert.That(e!.Message, Does.Contain(forced));
            Assert.That(Directory.GetFiles(dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "small.onnx", "big.onnx", "big.onnx.data" }));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Test]
    public void ExternalSaveNeverWritesAMessageOverTheLimit()
    {
        // Many tensors just under the external threshold stay inline; if together they exceed the limit, saving fails
        // instead of writing an oversized message.
        var dir = TestPaths.TempDir();
        try
        {
            var model = ThreeTensors(1000);
            var path = Path.Combine(dir, "m.onnx");
            var e = Assert.Throws<UnsupportedModelException>(() => ModelIO.Save(model, path,
                new ModelSaveOptions { ExternalData = ExternalDataMode.External, ExternalDataThreshold = 4096, MessageLimit = 2500 }));
            Assert.That(e!.Message, Does.Contain(path));
            Assert.That(Directory.GetFiles(dir), Is.Empty, "no model, data or temporary file");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
