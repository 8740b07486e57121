using Microsoft.ML.OnnxRuntime;
using NUnit.Framework;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Runtime;

/// <summary>OnnxPrune's thin layer over the official ONNX Runtime packages: sessions, presets, tensors, errors.</summary>
public class OrtSessionsTests
{
    [Test]
    public void Native_library_matches_the_managed_package_version()
    {
        // Managed and native packages are pinned to one version (Directory.Packages.props).
        var managed = typeof(InferenceSession).Assembly.GetName().Version!;
        Assert.That(OrtSessions.RuntimeVersion, Is.EqualTo($"{managed.Major}.{managed.Minor}.{managed.Build}"));
    }

    [Test]
    public void Available_providers_include_cpu()
    {
        Assert.That(OrtSessions.AvailableProviders, Does.Contain("CPUExecutionProvider"));
    }

    [Test]
    public void Environment_is_created_once_and_is_usable()
    {
        var env = OrtEnv.Instance();
        Assert.That(OrtEnv.Instance(), Is.SameAs(env));
        using var session = OrtSessions.Create(TestModels.ReluAdd());
        Assert.That(session.InputNames, Is.Not.Empty);
    }

    [Test]
    public void Metadata_reports_names_types_and_symbolic_dims()
    {
        using var session = OrtSessions.Create(TestModels.ReluAdd());
        Assert.That(session.InputNames, Is.EqualTo(new[] { "x" }));
        Assert.That(session.OutputNames, Is.EqualTo(new[] { "y", "z" }));
        var x = session.InputMetadata["x"];
        Assert.That(x.OnnxValueType, Is.EqualTo(OnnxValueType.ONNX_TYPE_TENSOR));
        Assert.That(x.OnnxPruneElementType(), Is.EqualTo(ElementType.Float));
        Assert.That(x.Dimensions, Is.EqualTo(new[] { -1, 4 }));
        Assert.That(x.SymbolicDimensions[0], Is.EqualTo("batch"));
        Assert.That(x.TypeText(), Is.EqualTo("float[batch,4]"));
        Assert.That(session.DescribeOutputs(), Is.EqualTo("y: float[batch,4], z: float[batch,4]"));
    }

    [TestCase(ElementType.Float)]
    [TestCase(ElementType.Float16)]
    [TestCase(ElementType.Double)]
    [TestCase(ElementType.Int64)]
    [TestCase(ElementType.Int32)]
    [TestCase(ElementType.Int8)]
    [TestCase(ElementType.UInt8)]
    [TestCase(ElementType.Bool)]
    [TestCase(ElementType.Int16)]
    [TestCase(ElementType.UInt16)]
    [TestCase(ElementType.BFloat16)]
    public void Identity_round_trips_every_element_type_bit_exactly(ElementType type)
    {
        using var session = OrtSessions.Create(TestModels.Identity(type));
        var rng = new Random((int)type);
        var input = RandomInputs.Fill(type, [2, 3], rng);
        var output = session.RunTensors(new Dictionary<string, Tensor> { ["x"] = input })["y"];
        Assert.That(output.ElementType, Is.EqualTo(type));
        Assert.That(output.Shape, Is.EqualTo(new long[] { 2, 3 }));
        Assert.That(output.RawData, Is.EqualTo(input.RawData));
        Assert.That(output.RawData, Is.Not.SameAs(input.RawData), "outputs are copies owned by the caller");
    }

    [Test]
    public void Empty_and_scalar_tensors_round_trip()
    {
        using var session = OrtSessions.Create(TestModels.Model([TestModels.Node("Identity", ["x"], ["y"])],
            [TestModels.Value("x", ElementType.Float, "n")], [TestModels.Value("y", ElementType.Float, "n")]));
        var empty = session.RunTensors(new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray<float>([], 0) })["y"];
        Assert.That(empty.Shape, Is.EqualTo(new long[] { 0 }));
        Assert.That(empty.RawData, Is.Empty);
    }

    [Test]
    public void Error_carries_ort_code_message_and_the_official_exception()
    {
        var e = Assert.Throws<OrtCallException>(() => OrtSessions.Create([1, 2, 3, 4, 5]))!;
        Assert.That(e.ErrorCode, Is.Not.EqualTo(OrtErrorCode.Ok));
        Assert.That(e.Message, Does.Contain("ONNX Runtime"));
        Assert.That(e.Message.Length, Is.GreaterThan(30));
        Assert.That(e.InnerException, Is.InstanceOf<Microsoft.ML.OnnxRuntime.OnnxRuntimeException>());
        Assert.That(e, Is.InstanceOf<OnnxPruneException>());
    }

    [TestCase("[ErrorCode:InvalidArgument] bad input", OrtErrorCode.InvalidArgument, "bad input")]
    [TestCase("[ErrorCode:NotImplemented] no kernel", OrtErrorCode.NotImplemented, "no kernel")]
    [TestCase("[ErrorCode:ShapeInferenceNotRegistered] ep failed", OrtErrorCode.EpFail, "ep failed")]
    [TestCase("[ErrorCode:14] not found", (OrtErrorCode)14, "not found")]
    [TestCase("plain text", OrtErrorCode.Fail, "plain text")]
    public void Managed_api_messages_map_to_ort_error_codes(string message, OrtErrorCode code, string text)
    {
        Assert.That(OrtCallException.ParseMessage(message), Is.EqualTo((code, text)));
    }

    [Test]
    public void Session_settings_are_accepted()
    {
        var settings = new SessionSettings
        {
            IntraOpThreads = 2,
            InterOpThreads = 2,
            ParallelExecution = true,
            AllowSpinning = false,
            OptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC,
            FreeDimensions = new Dictionary<string, long> { ["batch"] = 3 },
            ConfigEntries = new Dictionary<string, string> { ["session.inter_op.allow_spinning"] = "0" },
        };
        using var options = settings.CreateSessionOptions();
        Assert.That(options.IntraOpNumThreads, Is.EqualTo(2));
        Assert.That(options.ExecutionMode, Is.EqualTo(ExecutionMode.ORT_PARALLEL));
        Assert.That(options.GraphOptimizationLevel, Is.EqualTo(GraphOptimizationLevel.ORT_ENABLE_BASIC));
        using var session = OrtSessions.Create(TestModels.ReluAdd(), settings);
        // The free-dimension override fixes "batch" to 3.
        Assert.That(session.InputMetadata["x"].Dimensions, Is.EqualTo(new[] { 3, 4 }));
        var x = Tensor.FromArray<float>(new float[12], 3, 4);
        Assert.That(session.RunTensors(new Dictionary<string, Tensor> { ["x"] = x })["y"].Shape, Is.EqualTo(new long[] { 3, 4 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SessionSettings { IntraOpThreads = -1 }.CreateSessionOptions());
    }

    [Test]
    public void Profiling_writes_a_file()
    {
        var prefix = Path.Combine(Path.GetTempPath(), $"onnxprune-prof-{Guid.NewGuid():N}");
        using var session = OrtSessions.Create(TestModels.ReluAdd(), new SessionSettings { ProfilingFilePrefix = prefix });
        session.RunTensors(new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray<float>(new float[4], 1, 4) });
        var file = session.EndProfiling();
        try
        {
            Assert.That(File.Exists(file), Is.True, file);
            Assert.That(File.ReadAllText(file), Does.Contain("\"name\""));
        }
        finally { File.Delete(file); }
    }

    [TestCase("cpu", ExecutionProvider.Cpu)]
    [TestCase("CUDA", ExecutionProvider.Cuda)]
    public void Providers_parse_by_name(string name, ExecutionProvider expected)
    {
        Assert.That(SessionSettings.ParseProvider(name), Is.EqualTo(expected));
        Assert.Throws<ArgumentException>(() => SessionSettings.ParseProvider("tpu"));
    }

    [Test]
    public void Cuda_request_without_cuda_gives_clear_error()
    {
        // The CPU package has no CUDA provider; the GPU package without CUDA 13 libraries fails to load it. Either
        // way the message names what is missing and the package to use (unless a real CUDA setup is present).
        try
        {
            using var session = OrtSessions.Create(TestModels.ReluAdd(), new SessionSettings { Provider = ExecutionProvider.Cuda });
            var y = session.RunTensors(new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray<float>([-1f, 1f, 2f, -3f], 1, 4) })["y"];
            Assert.That(y.AsSpan<float>().ToArray(), Is.EqualTo(new[] { 0.5f, 0f, 4f, 0f }), "CUDA is available here: results must match CPU");
        }
        catch (OrtCallException e)
        {
            Assert.That(e.Message, Does.Contain("CUDA").And.Contain("Microsoft.ML.OnnxRuntime.Gpu").And.Contain("missing library"));
            Assert.That(e.ErrorCode, Is.Not.EqualTo(OrtErrorCode.Ok));
        }
    }
}
