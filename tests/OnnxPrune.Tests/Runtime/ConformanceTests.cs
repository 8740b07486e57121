using NUnit.Framework;
using OnnxPrune.Runtime;
using OnnxPrune.Runtime.Conformance;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Runtime;

/// <summary>
/// The ONNX backend test data (Debian package libonnx-testdata, installed by CI) through our binding.
/// Fails, never skips, when the data is missing.
/// </summary>
public class ConformanceTests
{
    private const string DataDir = "/usr/share/libonnx-testdata/data";

    [Test]
    public void Onnx_backend_test_data_passes()
    {
        var root = Environment.GetEnvironmentVariable("ONNXPRUNE_CONFORMANCE_DATA") ?? DataDir;
        Assert.That(Directory.Exists(root), Is.True,
            $"ONNX conformance data not found at {root}: install it (apt-get install -y libonnx-testdata) or set ONNXPRUNE_CONFORMANCE_DATA.");
        var summary = new ConformanceRunner().RunAll(root);
        TestContext.Out.WriteLine(summary);
        foreach (var r in summary.Results.Where(r => r.Status != ConformanceStatus.Passed))
            TestContext.Out.WriteLine($"{r.Status} {r.Name}: {r.Reason}");
        var failed = summary.Results.Where(r => r.Status == ConformanceStatus.Failed).Select(r => $"{r.Name}: {r.Reason}").ToList();
        Assert.That(failed, Is.Empty, summary.ToString());
        Assert.That(summary.Passed, Is.GreaterThanOrEqualTo(900), summary.ToString());
    }

    [Test]
    public void Comparison_applies_tolerances_nan_and_inf_rules()
    {
        var runner = new ConformanceRunner();
        Tensor F(params float[] v) => Tensor.FromArray<float>(v, v.Length);
        Assert.That(runner.Compare(F(1f, float.NaN, float.PositiveInfinity), F(1.0005f, float.NaN, float.PositiveInfinity)), Is.Null);
        Assert.That(runner.Compare(F(1.002f), F(1f)), Does.Contain("differ"));
        Assert.That(runner.Compare(F(float.NaN), F(0f)), Does.Contain("differ"));
        Assert.That(runner.Compare(F(float.PositiveInfinity), F(float.NegativeInfinity)), Does.Contain("differ"));
        Assert.That(runner.Compare(F(1e-8f), F(0f)), Is.Null);
        Assert.That(runner.Compare(F(1e-6f), F(0f)), Does.Contain("differ"));
        Assert.That(runner.Compare(F(1f, 2f), Tensor.FromArray<float>([1f, 2f], 1, 2)), Does.Contain("shape"));
        Assert.That(runner.Compare(F(1f), Tensor.FromArray<double>([1.0], 1)), Does.Contain("element type"));
        Assert.That(runner.Compare(Tensor.FromArray<long>([1, 2], 2), Tensor.FromArray<long>([1, 3], 2)), Does.Contain("element 1"));
    }
}
