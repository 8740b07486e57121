using System.Diagnostics;
using NUnit.Framework;
using Microsoft.ML.OnnxRuntime;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Runtime;

public class InferenceSessionTests
{
    private static Dictionary<string, Tensor> Feed(string name, Tensor t) => new() { [name] = t };

    private static float[] RandomFloats(int n, int seed)
    {
        var rng = new Random(seed);
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(rng.NextDouble() * 4 - 2);
        return v;
    }

    [Test]
    public void Run_computes_relu_add_and_mul()
    {
        using var session = OrtSessions.Create(TestModels.ReluAdd());
        var x = RandomFloats(3 * 4, 1);
        var outputs = session.RunTensors(Feed("x", Tensor.FromArray<float>(x, 3, 4)));
        Assert.That(outputs.Keys, Is.EqualTo(new[] { "y", "z" }));
        var y = outputs["y"].AsSpan<float>().ToArray();
        var z = outputs["z"].AsSpan<float>().ToArray();
        for (int i = 0; i < x.Length; i++)
        {
            Assert.That(y[i], Is.EqualTo(Math.Max(x[i], 0) + TestModels.Bias[i % 4]).Within(1e-6));
            Assert.That(z[i], Is.EqualTo(x[i] * x[i]).Within(1e-6));
        }
    }

    [Test]
    public void Run_returns_only_requested_outputs_in_requested_order()
    {
        using var session = OrtSessions.Create(TestModels.ReluAdd());
        var outputs = session.RunTensors(Feed("x", Tensor.FromArray<float>(RandomFloats(4, 2), 1, 4)), ["z"]);
        Assert.That(outputs.Keys, Is.EqualTo(new[] { "z" }));
        var e = Assert.Throws<OrtCallException>(() => session.RunTensors(Feed("x", Tensor.FromArray<float>(new float[4], 1, 4)), ["nope"]))!;
        Assert.That(e.Message, Does.Contain("nope").And.Contain("y: float[batch,4]"));
    }

    [Test]
    public void Session_from_file_matches_session_from_bytes()
    {
        var path = Path.Combine(Path.GetTempPath(), $"onnxprune-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, TestModels.ReluAdd());
        try
        {
            using var fromFile = OrtSessions.Create(path);
            using var fromBytes = OrtSessions.Create(TestModels.ReluAdd());
            var feed = Feed("x", Tensor.FromArray<float>(RandomFloats(8, 3), 2, 4));
            Assert.That(fromFile.RunTensors(feed)["y"].RawData, Is.EqualTo(fromBytes.RunTensors(feed)["y"].RawData));
        }
        finally { File.Delete(path); }
    }

    [Test]
    public void Missing_model_file_is_file_not_found()
    {
        Assert.Throws<FileNotFoundException>(() => OrtSessions.Create("/no/such/model.onnx"));
    }

    [Test]
    public void Unknown_op_error_carries_ort_message()
    {
        var e = Assert.Throws<OrtCallException>(() => OrtSessions.Create(TestModels.UnknownOp()))!;
        Assert.That(e.Message, Does.Contain("NoSuchOperatorXyz"));
        Assert.That(e.ErrorCode, Is.Not.EqualTo(OrtErrorCode.Ok));
    }

    [Test]
    public void Wrong_input_name_lists_expected_inputs()
    {
        using var session = OrtSessions.Create(TestModels.ReluAdd());
        var e = Assert.Throws<OrtCallException>(() => session.RunTensors(Feed("input", Tensor.FromArray<float>(new float[4], 1, 4))))!;
        Assert.That(e.ErrorCode, Is.EqualTo(OrtErrorCode.InvalidArgument));
        Assert.That(e.Message, Does.Contain("'input'").And.Contain("x: float[batch,4]"));
    }

    [Test]
    public void Missing_input_lists_expected_inputs()
    {
        using var session = OrtSessions.Create(TestModels.ReluAdd());
        var e = Assert.Throws<OrtCallException>(() => session.RunTensors(new Dictionary<string, Tensor>()))!;
        Assert.That(e.Message, Does.Contain("Missing").And.Contain("x: float[batch,4]"));
    }

    [Test]
    public void Wrong_shape_lists_expected_shape()
    {
        using var session = OrtSessions.Create(TestModels.ReluAdd());
        var e = Assert.Throws<OrtCallException>(() => session.RunTensors(Feed("x", Tensor.FromArray<float>(new float[5], 1, 5))))!;
        Assert.That(e.Message, Does.Contain("float[1,5]").And.Contain("float[batch,4]"));
        e = Assert.Throws<OrtCallException>(() => session.RunTensors(Feed("x", Tensor.FromArray<float>(new float[4], 4))))!;
        Assert.That(e.Message, Does.Contain("float[4]").And.Contain("float[batch,4]"));
    }

    [Test]
    public void Wrong_element_type_lists_expected_type()
    {
        using var session = OrtSessions.Create(TestModels.ReluAdd());
        var e = Assert.Throws<OrtCallException>(() => session.RunTensors(Feed("x", Tensor.FromArray<double>(new double[4], 1, 4))))!;
        Assert.That(e.Message, Does.Contain("double[1,4]").And.Contain("float[batch,4]"));
    }

    [Test]
    public void Disposal_is_safe_in_any_order()
    {
        var input = Tensor.FromArray<float>(RandomFloats(4, 5), 1, 4);
        var session = OrtSessions.Create(TestModels.ReluAdd());
        var binding = session.CreateBinding(Feed("x", input));
        var before = session.RunTensors(Feed("x", input))["y"];
        binding.Run();
        Assert.That(binding.Outputs["y"].RawData, Is.EqualTo(before.RawData));
        // Binding before session (the documented order), each disposal idempotent.
        binding.Dispose();
        binding.Dispose();
        Assert.Throws<ObjectDisposedException>(() => binding.Run());
        session.Dispose();
        session.Dispose();
        // Tensors after everything: plain managed data, still holding the last results.
        Assert.That(before.AsSpan<float>().Length, Is.EqualTo(4));
        Assert.That(binding.Outputs["y"].RawData, Is.EqualTo(before.RawData));
        // A new session works after others were disposed (ONNX Runtime's environment is process-wide).
        using var again = OrtSessions.Create(TestModels.ReluAdd());
        Assert.That(again.RunTensors(Feed("x", input))["y"].RawData, Is.EqualTo(before.RawData));
    }

    [Test]
    public void Binding_reuses_buffers_and_tracks_refilled_inputs()
    {
        using var session = OrtSessions.Create(TestModels.ReluAdd());
        using var binding = session.CreateBinding(Feed("x", Tensor.FromArray<float>(new float[8], 2, 4)));
        var x = binding.Inputs["x"];
        Tensor? firstY = null;
        for (int round = 0; round < 5; round++)
        {
            var values = RandomFloats(8, 100 + round);
            values.CopyTo(x.AsSpan<float>());
            binding.Run();
            var y = binding.Outputs["y"];
            if (firstY == null) firstY = y;
            Assert.That(y, Is.SameAs(firstY), "output tensors are allocated once");
            var expected = session.RunTensors(Feed("x", Tensor.FromArray<float>(values, 2, 4)));
            Assert.That(y.RawData, Is.EqualTo(expected["y"].RawData));
            Assert.That(binding.Outputs["z"].RawData, Is.EqualTo(expected["z"].RawData));
        }
        binding.SetInput("x", Tensor.FromArray<float>(new float[8], 2, 4));
        binding.Run();
        Assert.That(binding.Outputs["z"].AsSpan<float>().ToArray(), Is.All.EqualTo(0f));
        Assert.Throws<ArgumentException>(() => binding.SetInput("x", Tensor.FromArray<float>(new float[4], 1, 4)));
    }

    [Test]
    public void Binding_of_identity_copies_input_into_bound_output()
    {
        using var session = OrtSessions.Create(TestModels.Identity(ElementType.Int64));
        using var binding = session.CreateBinding(Feed("x", Tensor.FromArray<long>([1, 2, 3, 4, 5, 6], 2, 3)));
        binding.Run();
        Assert.That(binding.Outputs["y"].AsSpan<long>().ToArray(), Is.EqualTo(new long[] { 1, 2, 3, 4, 5, 6 }));
        new long[] { 7, 8, 9, 10, 11, 12 }.CopyTo(binding.Inputs["x"].AsSpan<long>());
        binding.Run();
        Assert.That(binding.Outputs["y"].AsSpan<long>().ToArray(), Is.EqualTo(new long[] { 7, 8, 9, 10, 11, 12 }));
    }

    [Test]
    public void Concurrent_runs_match_serial_runs()
    {
        using var session = OrtSessions.Create(TestModels.MatMulRelu(7), new SessionSettings { IntraOpThreads = 1 });
        const int count = 64;
        var inputs = Enumerable.Range(0, count).Select(i => Tensor.FromArray<float>(RandomFloats(((i % 4) + 1) * 64, i), (i % 4) + 1, 64)).ToArray();
        var serial = inputs.Select(t => session.RunTensors(Feed("x", t))["y"].RawData).ToArray();
        var parallel = new byte[count][];
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            for (int repeat = 0; repeat < 5; repeat++) parallel[i] = session.RunTensors(Feed("x", inputs[i]))["y"].RawData;
        });
        for (int i = 0; i < count; i++) Assert.That(parallel[i], Is.EqualTo(serial[i]), $"input {i}");
    }

    [Test]
    public void Ten_thousand_runs_do_not_grow_memory()
    {
        using var session = OrtSessions.Create(TestModels.ReluAdd(), new SessionSettings { IntraOpThreads = 1 });
        var feed = Feed("x", Tensor.FromArray<float>(RandomFloats(1024 * 4, 9), 1024, 4)); // 16 KB per output: a leak would show
        using var binding = session.CreateBinding(feed);
        void Both(int n)
        {
            for (int i = 0; i < n; i++)
            {
                session.RunTensors(feed);
                binding.Run();
            }
        }
        Both(1000); // warm-up: arenas, JIT, thread pools
        var (privateBefore, rssBefore) = Measure();
        Both(10_000);
        var (privateAfter, rssAfter) = Measure();
        const long bound = 50L << 20;
        Assert.That(privateAfter - privateBefore, Is.LessThan(bound), $"private memory grew {(privateAfter - privateBefore) >> 20} MB over 10,000 runs");
        Assert.That(rssAfter - rssBefore, Is.LessThan(bound), $"working set grew {(rssAfter - rssBefore) >> 20} MB over 10,000 runs");
        Assert.That(binding.Outputs["y"].ElementCount, Is.EqualTo(4096));

        static (long Private, long WorkingSet) Measure()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            using var p = Process.GetCurrentProcess();
            return (p.PrivateMemorySize64, p.WorkingSet64);
        }
    }
}
