using Google.Protobuf;
using OnnxPrune.Graph;
using OnnxPrune.Onnx;
using OnnxPrune.Onnx.Proto;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Onnx;

/// <summary>External data files: saved and reloaded equal, broken references refused with the file named,
/// deterministic bytes, atomic writes.</summary>
public class ExternalDataTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = TestPaths.TempDir();

    [TearDown]
    public void TearDown() { try { Directory.Delete(_dir, true); } catch (IOException) { } }

    private static ModelProto Cnn() => TestModels.SmallCnn().ToProto();

    private static IEnumerable<TensorProto> Initializers(ModelProto m) => m.Graph.Initializer;

    [Test]
    public void SavedWithExternalDataReloadsEqual()
    {
        var original = Cnn();
        var path = Path.Combine(_dir, "cnn.onnx");
        ModelIO.Save(original, path, new ModelSaveOptions { ExternalData = ExternalDataMode.External });
        var dataPath = path + ".data";
        Assert.That(File.Exists(dataPath), Is.True);

        // Tensors of at least 1 KiB (the default threshold) moved out, the rest stayed inline.
        var raw = ModelIO.Load(path, new ModelLoadOptions { LoadExternalData = false });
        var moved = Initializers(raw).Where(t => t.DataLocation == TensorProto.Types.DataLocation.External).Select(t => t.Name).ToArray();
        var big = Initializers(original).Where(t => t.RawData.Length >= 1024).Select(t => t.Name).ToArray();
        Assert.That(moved, Is.EquivalentTo(big));
        Assert.That(big, Is.Not.Empty);
        foreach (var t in Initializers(raw).Where(t => moved.Contains(t.Name)))
        {
            var entries = t.ExternalData.ToDictionary(e => e.Key, e => e.Value);
            Assert.That(entries["location"], Is.EqualTo("cnn.onnx.data"));
            Assert.That(long.Parse(entries["offset"]) % 4096, Is.Zero, "offsets are aligned for memory mapping");
            Assert.That(t.HasRawData, Is.False);
        }

        var reloaded = ModelIO.Load(path);
        Assert.That(reloaded, Is.EqualTo(original));
        Assert.That(OnnxModel.Load(path).ToProto(), Is.EqualTo(original));
    }

    [Test]
    public void CustomFileNameAndThreshold()
    {
        var original = Cnn();
        var path = Path.Combine(_dir, "cnn.onnx");
        ModelIO.Save(original, path, new ModelSaveOptions
        {
            ExternalData = ExternalDataMode.External, ExternalDataFileName = "weights.bin", ExternalDataThreshold = 0, ExternalDataAlignment = 64,
        });
        Assert.That(File.Exists(Path.Combine(_dir, "weights.bin")), Is.True);
        Assert.That(File.Exists(path + ".data"), Is.False);
        var raw = ModelIO.Load(path, new ModelLoadOptions { LoadExternalData = false });
        Assert.That(Initializers(raw).All(t => t.DataLocation == TensorProto.Types.DataLocation.External), Is.True, "threshold 0 moves every tensor");
        long expectedEnd = 0;
        foreach (var t in Initializers(original))
            expectedEnd = (expectedEnd + 63) / 64 * 64 + t.RawData.Length;
        Assert.That(new FileInfo(Path.Combine(_dir, "weights.bin")).Length, Is.EqualTo(expectedEnd), "tensors packed with 64-byte alignment");
        Assert.That(ModelIO.Load(path), Is.EqualTo(original));
    }

    [Test]
    public void TypedFieldTensorsAndConstantNodesGoExternalToo()
    {
        var m = TestModels.AddRelu(512);
        var w = m.Graph.Initializer[0];
        var values = new float[512];
        for (int i = 0; i < values.Length; i++) values[i] = i * 0.5f;
        w.ClearRawData();
        w.FloatData.AddRange(values);
        var constant = TestModels.Node("Constant", [], ["k"], "k");
        var kt = TestModels.FloatInitializer("", 1, 512);
        constant.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = kt });
        m.Graph.Node.Insert(0, constant);
        m.Graph.Node[1].Input[1] = "k"; // Add reads the Constant; w stays as a graph output
        m.Graph.Output.Add(TestModels.Declare("w", ElementType.Float, 1, 512));
        var path = Path.Combine(_dir, "typed.onnx");
        ModelIO.Save(m, path, new ModelSaveOptions { ExternalData = ExternalDataMode.External });
        var raw = ModelIO.Load(path, new ModelLoadOptions { LoadExternalData = false });
        Assert.That(raw.Graph.Initializer[0].DataLocation, Is.EqualTo(TensorProto.Types.DataLocation.External));
        Assert.That(raw.Graph.Node[0].Attribute[0].T.DataLocation, Is.EqualTo(TensorProto.Types.DataLocation.External));
        var back = ModelIO.Load(path);
        // float_data came back as raw_data holding the same floats.
        Assert.That(TensorProtoConverter.ToTensor(back.Graph.Initializer[0]).AsSpan<float>().ToArray(), Is.EqualTo(values));
        Assert.That(back.Graph.Node[0].Attribute[0].T, Is.EqualTo(kt));
    }

    [Test]
    public void MissingDataFileIsNamed()
    {
        var path = SaveExternal();
        File.Delete(path + ".data");
        var e = Assert.Throws<OnnxFormatException>(() => ModelIO.Load(path));
        Assert.That(e!.Message, Does.Contain(path).And.Contain(path + ".data").And.Contain("missing"));
    }

    [Test]
    public void TooShortDataFileIsNamed()
    {
        var path = SaveExternal();
        using (var f = new FileStream(path + ".data", FileMode.Open)) f.SetLength(f.Length - 1);
        var e = Assert.Throws<OnnxFormatException>(() => ModelIO.Load(path));
        Assert.That(e!.Message, Does.Contain(path + ".data").And.Contain("too short"));
    }

    [Test]
    public void OffsetPastTheEndIsNamed()
    {
        var path = SaveExternal();
        var raw = ModelIO.Load(path, new ModelLoadOptions { LoadExternalData = false });
        var t = raw.Graph.Initializer.First(t => t.DataLocation == TensorProto.Types.DataLocation.External);
        t.ExternalData.Single(e => e.Key == "offset").Value = (new FileInfo(path + ".data").Length + 10).ToString();
        File.WriteAllBytes(path, raw.ToByteArray());
        var e = Assert.Throws<OnnxFormatException>(() => ModelIO.Load(path));
        Assert.That(e!.Message, Does.Contain(path + ".data").And.Contain("too short").And.Contain(t.Name));
    }

    [TestCase("../outside.bin")]
    [TestCase("sub/../../outside.bin")]
    [TestCase("/tmp/outside.bin")]
    public void LocationsOutsideTheModelFolderAreRefused(string location)
    {
        var path = SaveExternal();
        // A real file where the escaping locations point, so only the location check can refuse them.
        var outside = Path.Combine(Path.GetDirectoryName(_dir)!, "outside.bin");
        if (!File.Exists(outside)) File.WriteAllBytes(outside, new byte[1 << 16]);
        var raw = ModelIO.Load(path, new ModelLoadOptions { LoadExternalData = false });
        raw.Graph.Initializer.First(t => t.DataLocation == TensorProto.Types.DataLocation.External)
            .ExternalData.Single(e => e.Key == "location").Value = location;
        File.WriteAllBytes(path, raw.ToByteArray());
        var e = Assert.Throws<OnnxFormatException>(() => ModelIO.Load(path));
        Assert.That(e!.Message, Does.Contain(path).And.Contain(location));
    }

    [Test]
    public void SymbolicLinksAreRefused()
    {
        var path = SaveExternal();
        var outside = Path.Combine(Path.GetDirectoryName(_dir)!, Guid.NewGuid().ToString("N") + ".bin");
        File.Move(path + ".data", outside);
        try
        {
            File.CreateSymbolicLink(path + ".data", outside);
            var e = Assert.Throws<OnnxFormatException>(() => ModelIO.Load(path));
            Assert.That(e!.Message, Does.Contain(path + ".data").And.Contain("symbolic link"));
        }
        finally
        {
            File.Delete(outside);
        }
    }

    [TestCase("../weights.bin")]
    [TestCase("/tmp/weights.bin")]
    [TestCase("m.onnx")]
    [TestCase("./m.onnx")]
    [TestCase("")]
    [TestCase(".")]
    [TestCase("sub/")]
    public void BadDataFileNamesAreRefused(string name)
    {
        var path = Path.Combine(_dir, "m.onnx");
        Assert.Throws<ArgumentException>(() => ModelIO.Save(Cnn(), path, new ModelSaveOptions { ExternalData = ExternalDataMode.External, ExternalDataFileName = name }));
        Assert.That(Directory.GetFileSystemEntries(_dir), Is.Empty);
    }

    [TestCase(ExternalDataMode.Inline)]
    [TestCase(ExternalDataMode.External)]
    public void SavesAreDeterministic(ExternalDataMode mode)
    {
        var options = new ModelSaveOptions { ExternalData = mode, ExternalDataFileName = "weights.data" };
        Directory.CreateDirectory(Path.Combine(_dir, "1"));
        Directory.CreateDirectory(Path.Combine(_dir, "2"));
        var a = Path.Combine(_dir, "1", "m.onnx");
        var b = Path.Combine(_dir, "2", "m.onnx");
        // Two separately built (equal) models, and a model saved, reloaded and saved again.
        ModelIO.Save(Cnn(), a, options);
        ModelIO.Save(Cnn(), b, options);
        Assert.That(File.ReadAllBytes(b), Is.EqualTo(File.ReadAllBytes(a)));
        if (mode == ExternalDataMode.External)
            Assert.That(File.ReadAllBytes(Path.Combine(_dir, "2", "weights.data")), Is.EqualTo(File.ReadAllBytes(Path.Combine(_dir, "1", "weights.data"))));
        OnnxModel.Load(a).Save(b, options);
        Assert.That(File.ReadAllBytes(b), Is.EqualTo(File.ReadAllBytes(a)));
        if (mode == ExternalDataMode.External)
            Assert.That(File.ReadAllBytes(Path.Combine(_dir, "2", "weights.data")), Is.EqualTo(File.ReadAllBytes(Path.Combine(_dir, "1", "weights.data"))));
    }

    [Test]
    public void MissingTargetFolderWritesNothing()
    {
        var path = Path.Combine(_dir, "no", "such", "m.onnx");
        Assert.Throws<DirectoryNotFoundException>(() => ModelIO.Save(Cnn(), path, new ModelSaveOptions { ExternalData = ExternalDataMode.External }));
        Assert.That(Directory.GetFileSystemEntries(_dir, "*", SearchOption.AllDirectories), Is.Empty);
    }

    [Test]
    public void FailureMidSaveLeavesNoFilesAndKeepsTheOldOnes()
    {
        // The first tensor is written to the data file; the second cannot be encoded (float_data too short).
        var m = TestModels.AddRelu(1024);
        var broken = TestModels.FloatInitializer("broken", 1, 1024);
        broken.ClearRawData();
        broken.FloatData.AddRange(new float[1000]);
        m.Graph.Initializer.Add(broken);
        var path = Path.Combine(_dir, "m.onnx");
        var e = Assert.Throws<OnnxFormatException>(() => ModelIO.Save(m, path, new ModelSaveOptions { ExternalData = ExternalDataMode.External }));
        Assert.That(e!.Message, Does.Contain("broken"));
        Assert.That(Directory.GetFileSystemEntries(_dir), Is.Empty, "no model, data or temporary file remains");

        // With old files in place, a failed save leaves them untouched.
        File.WriteAllText(path, "old model");
        File.WriteAllText(path + ".data", "old data");
        Assert.Throws<OnnxFormatException>(() => ModelIO.Save(m, path, new ModelSaveOptions { ExternalData = ExternalDataMode.External }));
        Assert.That(File.ReadAllText(path), Is.EqualTo("old model"));
        Assert.That(File.ReadAllText(path + ".data"), Is.EqualTo("old data"));
        Assert.That(Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "m.onnx", "m.onnx.data" }));
    }

    [Test]
    public void UnloadedExternalReferencesAreNotSavedAsIs()
    {
        var path = SaveExternal();
        var raw = ModelIO.Load(path, new ModelLoadOptions { LoadExternalData = false });
        var target = Path.Combine(_dir, "copy.onnx");
        var e = Assert.Throws<UnsupportedModelException>(() => ModelIO.Save(raw, target));
        Assert.That(e!.Message, Does.Contain(target));
        Assert.That(File.Exists(target), Is.False);
    }

    [Test]
    public void OverwritingWithInlineKeepsNoStaleReference()
    {
        var path = SaveExternal();
        var model = ModelIO.Load(path);
        ModelIO.Save(model, path, new ModelSaveOptions { ExternalData = ExternalDataMode.Inline });
        File.Delete(path + ".data");
        Assert.That(ModelIO.Load(path), Is.EqualTo(Cnn()));
    }

    private string SaveExternal()
    {
        var path = Path.Combine(_dir, "m.onnx");
        ModelIO.Save(Cnn(), path, new ModelSaveOptions { ExternalData = ExternalDataMode.External });
        return path;
    }
}
