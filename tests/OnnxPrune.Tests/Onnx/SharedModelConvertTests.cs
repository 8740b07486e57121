using System.Text.Json;
using OnnxPrune.Onnx;
using OnnxPrune.Onnx.Proto;

namespace OnnxPrune.Tests.Onnx;

/// <summary>Every real model converts to external data and back to inline (through the CLI) without change,
/// as seen by us and by the onnx Python package (checker passes; every tensor equal to the original's).</summary>
public class SharedModelConvertTests
{
    [TestCaseSource(typeof(TestPaths), nameof(TestPaths.SharedModelNames))]
    public void ConvertsToExternalAndBack(string file)
    {
        var source = TestPaths.SharedModel(file);
        var dir = TestPaths.TempDir();
        try
        {
            var original = ModelIO.Load(source);
            var external = Path.Combine(dir, "external.onnx");
            var inline = Path.Combine(dir, "inline.onnx");
            var r1 = Processes.RunCli("convert", source, external, "--external-data", "--external-threshold", "256");
            Assert.That(r1.ExitCode, Is.Zero, r1.ToString());
            Assert.That(File.Exists(external + ".data"), Is.True);
            var r2 = Processes.RunCli("convert", external, inline, "--inline");
            Assert.That(r2.ExitCode, Is.Zero, r2.ToString());

            var raw = ModelIO.Load(external, new ModelLoadOptions { LoadExternalData = false });
            int externalTensors = 0;
            ModelTensors.ForEach(raw, (t, _) => { if (ExternalData.IsExternal(t)) externalTensors++; });
            Assert.That(externalTensors, Is.GreaterThan(0), "some tensors moved to the data file");
            // Tensors kept in typed fields (float_data, ...) come back as raw_data, the only form an external
            // file holds; everything else is exactly the original.
            var expected = Messages.WithRawData(original, minBytes: 256);
            TestContext.Out.WriteLine($"typed-field tensors in the original: {Messages.HasTypedFieldTensors(original)}");
            Messages.AssertEqual(expected, ModelIO.Load(external), "external, loaded back");
            Messages.AssertEqual(expected, ModelIO.Load(inline), "external → inline");
            Assert.That(File.ReadAllBytes(inline), Is.EqualTo(ModelIO.ToBytes(expected)), "inline bytes are our canonical serialization");

            var py = Processes.RunPython("compare_models.py", source, external, inline);
            TestContext.Out.WriteLine(py.StdOut);
            Assert.That(py.ExitCode, Is.Zero, py.ToString());
            using var report = JsonDocument.Parse(py.StdOut);
            int tensors = report.RootElement.GetProperty("tensors").GetInt32();
            Assert.That(tensors, Is.GreaterThan(0));
            var candidates = report.RootElement.GetProperty("candidates").EnumerateArray().ToArray();
            Assert.That(candidates, Has.Length.EqualTo(2));
            foreach (var c in candidates)
            {
                Assert.That(c.GetProperty("checker").GetString(), Is.EqualTo("ok"));
                Assert.That(c.GetProperty("compared").GetInt32(), Is.EqualTo(tensors));
            }
            Assert.That(candidates[0].GetProperty("external").GetInt32(), Is.EqualTo(externalTensors), "python sees the same external tensors");
            Assert.That(candidates[1].GetProperty("external").GetInt32(), Is.Zero);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
