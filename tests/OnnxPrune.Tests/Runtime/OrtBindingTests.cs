using NUnit.Framework;
using OnnxPrune.Runtime;
using OnnxPrune.Runtime.Native;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Runtime;

/// <summary>Checks that the C function table slots we read behave as the functions they should be.</summary>
public class OrtBindingTests
{
    [Test]
    public void Library_loads_and_reports_the_bundled_version()
    {
        // OrtApiBase::GetVersionString, and GetApi accepted our API version (else the table would be null).
        Assert.That(OrtEnvironment.RuntimeVersion, Is.EqualTo(OrtNativeLibrary.BundledVersion));
        Assert.That(File.Exists(OrtEnvironment.LibraryPath), Is.True, OrtEnvironment.LibraryPath);
    }

    [Test]
    public void Available_providers_include_cpu()
    {
        // Slots 125/126: GetAvailableProviders / ReleaseAvailableProviders.
        Assert.That(OrtEnvironment.AvailableProviders, Does.Contain("CPUExecutionProvider"));
    }

    [Test]
    public void Environment_is_created_once_and_is_usable()
    {
        // Slot 3: CreateEnv.
        var env = OrtEnvironment.Shared;
        Assert.That(env.IsDisposed, Is.False);
        Assert.That(OrtEnvironment.Shared, Is.SameAs(env));
    }

    [Test]
    public void Metadata_reports_names_types_and_symbolic_dims()
    {
        // Slots 30-37 (counts, type info, names), 55/56 (cast/onnx type), 60-63 (element type, dims, symbolic dims).
        using var session = new InferenceSession(TestModels.ReluAdd());
        Assert.That(session.Inputs.Select(i => i.Name), Is.EqualTo(new[] { "x" }));
        Assert.That(session.Outputs.Select(o => o.Name), Is.EqualTo(new[] { "y", "z" }));
        var x = session.Inputs[0];
        Assert.That(x.Kind, Is.EqualTo(OnnxValueKind.Tensor));
        Assert.That(x.ElementType, Is.EqualTo(ElementType.Float));
        Assert.That(x.Shape, Is.EqualTo(new long[] { -1, 4 }));
        Assert.That(x.SymbolicDims, Is.EqualTo(new string?[] { "batch", null }));
        Assert.That(x.TypeText, Is.EqualTo("float[batch,4]"));
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
        // Slots 49 (CreateTensorWithDataAsOrtValue), 9 (Run), 65/67 (shape, value type), 51 (data), 96 (ReleaseValue).
        using var session = new InferenceSession(TestModels.Identity(type));
        var rng = new Random((int)type);
        var input = RandomInputs.Fill(type, [2, 3], rng);
        var output = session.Run(new Dictionary<string, Tensor> { ["x"] = input })["y"];
        Assert.That(output.ElementType, Is.EqualTo(type));
        Assert.That(output.Shape, Is.EqualTo(new long[] { 2, 3 }));
        Assert.That(output.RawData, Is.EqualTo(input.RawData));
        Assert.That(output.RawData, Is.Not.SameAs(input.RawData), "outputs are copies owned by the caller");
    }

    [Test]
    public void Error_status_carries_code_and_message()
    {
        // Slots 1/2/93: GetErrorCode, GetErrorMessage, ReleaseStatus (through the choke point).
        var e = Assert.Throws<OnnxRuntimeException>(() => new InferenceSession([1, 2, 3, 4, 5]))!;
        Assert.That(e.ErrorCode, Is.Not.EqualTo(OrtErrorCode.Ok));
        Assert.That(e.Message, Does.Contain("ONNX Runtime"));
        Assert.That(e.Message.Length, Is.GreaterThan(30));
    }

    [Test]
    public void Session_options_are_accepted()
    {
        // Slots 10, 13, 22-25, 124, 130: options, execution mode, log level, optimization level, threads, free dims, config entries.
        var options = new SessionOptions
        {
            IntraOpThreads = 2,
            InterOpThreads = 2,
            ParallelExecution = true,
            AllowSpinning = false,
            OptimizationLevel = GraphOptimizationLevel.Basic,
            FreeDimensions = new Dictionary<string, long> { ["batch"] = 3 },
            ConfigEntries = new Dictionary<string, string> { ["session.inter_op.allow_spinning"] = "0" },
        };
        using var session = new InferenceSession(TestModels.ReluAdd(), options);
        // The free-dimension override fixes "batch" to 3.
        Assert.That(session.Inputs[0].Shape, Is.EqualTo(new long[] { 3, 4 }));
        var x = Tensor.FromArray<float>(new float[12], 3, 4);
        Assert.That(session.Run(new Dictionary<string, Tensor> { ["x"] = x })["y"].Shape, Is.EqualTo(new long[] { 3, 4 }));
    }

    [Test]
    public void Profiling_writes_a_file()
    {
        // Slots 14 (EnableProfiling) and 110 (SessionEndProfiling) + 76 (AllocatorFree).
        var prefix = Path.Combine(Path.GetTempPath(), $"onnxprune-prof-{Guid.NewGuid():N}");
        using var session = new InferenceSession(TestModels.ReluAdd(), new SessionOptions { ProfilingFilePrefix = prefix });
        session.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray<float>(new float[4], 1, 4) });
        var file = session.EndProfiling();
        try
        {
            Assert.That(File.Exists(file), Is.True, file);
            Assert.That(File.ReadAllText(file), Does.Contain("\"name\""));
        }
        finally { File.Delete(file); }
    }

    [Test]
    public void Cuda_request_on_cpu_only_machine_gives_clear_error()
    {
        // onnxruntime-node's Linux build lists CUDAExecutionProvider but ships without the CUDA provider library,
        // so enabling it must fail with a message that says how to fix it (unless a real CUDA setup is present).
        try
        {
            using var session = new InferenceSession(TestModels.ReluAdd(), new SessionOptions { Provider = ExecutionProvider.Cuda });
            var y = session.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray<float>([-1f, 1f, 2f, -3f], 1, 4) })["y"];
            Assert.That(y.AsSpan<float>().ToArray(), Is.EqualTo(new[] { 0.5f, 0f, 4f, 0f }), "CUDA is available here: results must match CPU");
        }
        catch (OnnxRuntimeException e)
        {
            Assert.That(e.Message, Does.Contain("CUDA").And.Contain(OrtNativeLibrary.EnvironmentVariable));
        }
    }
}
