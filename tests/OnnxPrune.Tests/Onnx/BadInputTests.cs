using Google.Protobuf;
using OnnxPrune.Graph;
using OnnxPrune.Onnx;
using OnnxPrune.Onnx.Proto;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Onnx;

/// <summary>Broken files and broken graphs fail with a typed exception naming the file and the problem, in the
/// library and through the CLI (exit code 3, no output written).</summary>
public class BadInputTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = TestPaths.TempDir();

    [TearDown]
    public void TearDown() { try { Directory.Delete(_dir, true); } catch (IOException) { } }

    /// <summary>Each case: a file name, its bytes (plus optional side files), and a phrase the error must contain.</summary>
    public static IEnumerable<TestCaseData> Cases()
    {
        var valid = TestModels.AddRelu(256).ToByteArray();
        yield return Case("truncated", valid.AsSpan(0, valid.Length / 2).ToArray(), "not a valid ONNX model");
        yield return Case("truncated_by_one", valid.AsSpan(0, valid.Length - 1).ToArray(), "not a valid ONNX model");
        var random = new byte[4096];
        new Random(7).NextBytes(random);
        yield return Case("random_bytes", random, "not");
        yield return Case("empty", [], "no ir_version");

        var cycle = TestModels.AddRelu();
        cycle.Graph.Node.Clear();
        cycle.Graph.Node.Add(TestModels.Node("Add", ["x", "b"], ["a"], "first"));
        cycle.Graph.Node.Add(TestModels.Node("Relu", ["a"], ["b"], "second"));
        cycle.Graph.Node.Add(TestModels.Node("Relu", ["a"], ["y"], "third"));
        yield return Case("cycle", cycle.ToByteArray(), "cycle");

        var undefined = TestModels.AddRelu();
        undefined.Graph.Node[1].Input[0] = "nowhere";
        yield return Case("undefined_input", undefined.ToByteArray(), "undefined value 'nowhere'");

        var undefinedOutput = TestModels.AddRelu();
        undefinedOutput.Graph.Output[0].Name = "nothing";
        yield return Case("undefined_output", undefinedOutput.ToByteArray(), "'nothing'");

        var twoWriters = TestModels.AddRelu();
        twoWriters.Graph.Node.Add(TestModels.Node("Relu", ["x"], ["s"], "again"));
        yield return Case("two_nodes_same_output", twoWriters.ToByteArray(), "duplicate value name 's'");

        var overInput = TestModels.AddRelu();
        overInput.Graph.Node[1].Output[0] = "x";
        overInput.Graph.Output[0].Name = "x";
        yield return Case("node_output_is_input", overInput.ToByteArray(), "duplicate value name 'x'");

        var overInit = TestModels.AddRelu();
        overInit.Graph.Node[1].Output[0] = "w";
        overInit.Graph.Output[0].Name = "w";
        yield return Case("node_output_is_initializer", overInit.ToByteArray(), "duplicate value name 'w'");

        var twoInits = TestModels.AddRelu();
        twoInits.Graph.Initializer.Add(TestModels.FloatInitializer("w", 1, 16));
        yield return Case("two_initializers", twoInits.ToByteArray(), "two initializers named 'w'");

        var wrongRaw = TestModels.AddRelu();
        wrongRaw.Graph.Initializer[0].RawData = ByteString.CopyFrom(new byte[60]);
        yield return Case("raw_data_wrong_size", wrongRaw.ToByteArray(), "needs 64 bytes of raw_data, has 60");

        var negative = TestModels.AddRelu();
        negative.Graph.Initializer[0].Dims[1] = -16;
        yield return Case("negative_dims", negative.ToByteArray(), "negative dimension -16");

        // 2^31 · 2^31 floats need 2^64 bytes, which wraps to 0 in 64-bit arithmetic: an empty raw_data must not pass.
        var wraps = TestModels.AddRelu();
        wraps.Graph.Initializer[0].Dims.Clear();
        wraps.Graph.Initializer[0].Dims.AddRange([1L << 31, 1L << 31]);
        wraps.Graph.Initializer[0].RawData = ByteString.Empty;
        yield return Case("dims_product_overflows", wraps.ToByteArray(), "overflows");

        var wrongTyped = TestModels.AddRelu();
        wrongTyped.Graph.Initializer[0].ClearRawData();
        wrongTyped.Graph.Initializer[0].FloatData.AddRange(new float[15]);
        yield return Case("float_data_wrong_count", wrongTyped.ToByteArray(), "needs 16 values in float_data, has 15");

        var unknownType = TestModels.AddRelu();
        unknownType.Graph.Initializer[0].DataType = 99;
        yield return Case("unknown_data_type", unknownType.ToByteArray(), "unknown data type 99");

        // External data: 64 bytes are needed; the side file has them, but the offset points past its end.
        var external = ExternalModel(offset: 4096, length: 64);
        yield return Case("external_offset_past_end", external.ToByteArray(), "too short", ("external_offset_past_end.bin", new byte[128]));
        yield return Case("external_too_short", ExternalModel(0, 64).ToByteArray(), "too short", ("external_too_short.bin", new byte[32]));
        yield return Case("external_missing", ExternalModel(0, 64).ToByteArray(), "is missing");
        yield return Case("external_wrong_length", ExternalModel(0, 32).ToByteArray(), "has length 32", ("external_wrong_length.bin", new byte[128]));
        yield return Case("external_dotdot", ExternalModel(0, 64, "../escape.bin").ToByteArray(), "outside the model's folder");
        yield return Case("external_absolute", ExternalModel(0, 64, "/etc/passwd").ToByteArray(), "absolute external data location");
        yield return Case("external_bad_offset_text", ExternalModel(0, 64, offsetText: "-5").ToByteArray(), "not a non-negative integer",
            ("external_bad_offset_text.bin", new byte[128]));
    }

    private static TestCaseData Case(string name, byte[] bytes, string phrase, params (string Name, byte[] Bytes)[] sideFiles) =>
        new TestCaseData(name, bytes, phrase, sideFiles).SetName($"{{m}}({name})");

    private static ModelProto ExternalModel(long offset, long length, string? location = null, string? offsetText = null)
    {
        var m = TestModels.AddRelu();
        var w = m.Graph.Initializer[0];
        w.ClearRawData();
        w.DataLocation = TensorProto.Types.DataLocation.External;
        w.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location ?? "PLACEHOLDER.bin" });
        w.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offsetText ?? offset.ToString() });
        w.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString() });
        return m;
    }

    private string Write(string name, byte[] bytes, (string Name, byte[] Bytes)[] sideFiles)
    {
        var path = Path.Combine(_dir, name + ".onnx");
        // External-data cases name their side file after the case.
        bytes = ReplacePlaceholder(bytes, name + ".bin");
        File.WriteAllBytes(path, bytes);
        foreach (var (file, data) in sideFiles) File.WriteAllBytes(Path.Combine(_dir, file), data);
        return path;
    }

    private static byte[] ReplacePlaceholder(byte[] bytes, string location)
    {
        try
        {
            var m = ModelProto.Parser.ParseFrom(bytes);
            bool changed = false;
            foreach (var t in m.Graph?.Initializer ?? [])
                foreach (var kv in t.ExternalData)
                    if (kv.Key == "location" && kv.Value == "PLACEHOLDER.bin") { kv.Value = location; changed = true; }
            return changed ? m.ToByteArray() : bytes;
        }
        catch (InvalidProtocolBufferException) { return bytes; }
    }

    [TestCaseSource(nameof(Cases))]
    public void LoadFailsWithTypedExceptionNamingFileAndProblem(string name, byte[] bytes, string phrase, (string, byte[])[] sideFiles)
    {
        var path = Write(name, bytes, sideFiles);
        var e = Assert.Throws(Is.InstanceOf<OnnxPruneException>(), () => OnnxModel.Load(path));
        Assert.That(e!.Message, Does.Contain(path), "the message names the file");
        Assert.That(e.Message, Does.Contain(phrase).IgnoreCase, "the message names the problem");
        Assert.That(e, Is.InstanceOf<OnnxFormatException>(), "a broken model is a format error");
    }

    [TestCaseSource(nameof(Cases))]
    public void ConvertExitsWithInvalidModelAndWritesNothing(string name, byte[] bytes, string phrase, (string, byte[])[] sideFiles)
    {
        var path = Write(name, bytes, sideFiles);
        var outDir = Path.Combine(_dir, "out");
        Directory.CreateDirectory(outDir);
        var result = Processes.RunCli("convert", path, Path.Combine(outDir, "converted.onnx"), "--external-data");
        Assert.That(result.ExitCode, Is.EqualTo(3), result.ToString());
        Assert.That(result.StdErr, Does.Contain("invalid model").And.Contain(path), result.ToString());
        Assert.That(Directory.GetFileSystemEntries(outDir), Is.Empty, "no output (nor temporary) file is left");
    }

    [Test]
    public void MissingFileIsFileNotFound()
    {
        var path = Path.Combine(_dir, "absent.onnx");
        var e = Assert.Throws<FileNotFoundException>(() => ModelIO.Load(path));
        Assert.That(e!.Message, Does.Contain(path));
        var result = Processes.RunCli("convert", path, Path.Combine(_dir, "out.onnx"));
        Assert.That(result.ExitCode, Is.EqualTo(7), result.ToString());
        Assert.That(File.Exists(Path.Combine(_dir, "out.onnx")), Is.False);
    }

    [Test]
    public void WrongAttributeTypeNamesNodeAndAttribute()
    {
        var m = TestModels.AddRelu();
        m.Graph.Node[1].Attribute.Add(new AttributeProto { Name = "alpha", Type = AttributeProto.Types.AttributeType.Int, I = 3 });
        var model = OnnxModel.FromProto(ModelIO.Load(m.ToByteArray()));
        var relu = model.Graph.Nodes[1];
        var e = Assert.Throws<OnnxFormatException>(() => relu.Attributes.GetFloat("alpha", 0f));
        Assert.That(e!.Message, Does.Contain(relu.DisplayName).And.Contain("'alpha'").And.Contain("INT").IgnoreCase);
        Assert.That(relu.Attributes.GetInt("alpha", 0), Is.EqualTo(3));
    }

    [Test]
    public void BadTensorsInsideSubgraphsAreFound()
    {
        // A Loop-free If whose then-branch holds a Constant with a raw_data of the wrong size.
        var m = TestModels.AddRelu();
        var branch = new GraphProto { Name = "then" };
        var bad = new TensorProto { DataType = (int)ElementType.Float, RawData = ByteString.CopyFrom(new byte[3]) };
        bad.Dims.Add(1);
        var constant = TestModels.Node("Constant", [], ["c"], "bad_constant");
        constant.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = bad });
        branch.Node.Add(constant);
        branch.Output.Add(TestModels.Declare("c", ElementType.Float, 1));
        var iff = TestModels.Node("If", ["cond"], ["z"], "if");
        iff.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = branch });
        iff.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = branch.Clone() });
        m.Graph.Input.Add(TestModels.Declare("cond", ElementType.Bool));
        m.Graph.Node.Add(iff);
        m.Graph.Output.Add(TestModels.Declare("z", ElementType.Float, 1));
        var path = Path.Combine(_dir, "bad_subgraph.onnx");
        File.WriteAllBytes(path, m.ToByteArray());
        var e = Assert.Throws<OnnxFormatException>(() => ModelIO.Load(path));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("bad_constant").And.Contain("needs 4 bytes"));
    }
}
