using Google.Protobuf;
using OnnxPrune.Graph;
using OnnxPrune.Onnx;
using OnnxPrune.Onnx.Proto;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Onnx;

/// <summary>
/// Every model of ONNX's own backend test suite (Debian libonnx-testdata) loads, validates, and round-trips
/// exactly through <see cref="ModelIO"/> and the graph IR; every test tensor parses and decodes.
/// </summary>
public class OnnxTestDataTests
{
    private static readonly string[] Folders = ["node", "pytorch-converted", "pytorch-operator", "simple"];

    [TestCaseSource(nameof(Folders))]
    public void EveryModelRoundTrips(string folder)
    {
        var root = Path.Combine(TestPaths.OnnxTestData, folder);
        Assert.That(Directory.Exists(root), Is.True, $"{root} is missing");
        var cases = Directory.GetDirectories(root).Where(d => File.Exists(Path.Combine(d, "model.onnx"))).Order(StringComparer.Ordinal).ToArray();
        Assert.That(cases, Is.Not.Empty, $"no model.onnx under {root}");

        int roundTrips = 0, irRoundTrips = 0, tensorFiles = 0, decoded = 0, nonTensor = 0, stringTensors = 0;
        var failures = new List<string>();
        foreach (var dir in cases)
        {
            var path = Path.Combine(dir, "model.onnx");
            var name = Path.GetFileName(dir);
            ModelProto proto;
            try
            {
                proto = ModelIO.Load(path);
                var again = ModelIO.Load(ModelIO.ToBytes(proto), null, path);
                if (!again.Equals(proto)) { failures.Add($"{name}: load → save → load differs"); continue; }
                roundTrips++;
                var exported = OnnxModel.FromProto(proto).ToProto();
                if (!exported.Equals(proto)) { failures.Add($"{name}: IR import → export differs"); continue; }
                irRoundTrips++;
            }
            catch (Exception e)
            {
                failures.Add($"{name}: {e.GetType().Name}: {e.Message}");
                continue;
            }

            // input_i.pb / output_i.pb belong to the i-th data input (initializers excluded) / i-th output.
            var inits = proto.Graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
            var inputs = proto.Graph.Input.Where(i => !inits.Contains(i.Name)).ToArray();
            foreach (var set in Directory.GetDirectories(dir, "test_data_set_*").Order(StringComparer.Ordinal))
            {
                foreach (var pb in Directory.GetFiles(set, "*.pb").Order(StringComparer.Ordinal))
                {
                    var file = Path.GetFileNameWithoutExtension(pb);
                    var parts = file.Split('_');
                    if (parts.Length != 2 || !int.TryParse(parts[1], out var index)) { failures.Add($"{pb}: unexpected file name"); continue; }
                    var list = parts[0] == "input" ? inputs : proto.Graph.Output.ToArray();
                    if (index >= list.Length) { failures.Add($"{pb}: no matching graph {parts[0]} #{index}"); continue; }
                    tensorFiles++;
                    if (list[index].Type?.ValueCase is not (TypeProto.ValueOneofCase.TensorType or null))
                    {
                        nonTensor++; // SequenceProto / OptionalProto / MapProto: other message types
                        continue;
                    }
                    try
                    {
                        var t = TensorProto.Parser.ParseFrom(File.ReadAllBytes(pb));
                        if ((ElementType)t.DataType == ElementType.String) { stringTensors++; continue; }
                        var tensor = TensorProtoConverter.ToTensor(t);
                        if (!tensor.Shape.SequenceEqual(t.Dims)) { failures.Add($"{pb}: decoded shape differs"); continue; }
                        // ONNX 1.12's generator stored bfloat16 test data as numpy uint16 (same bits, other type tag).
                        if (list[index].Type?.TensorType is { HasElemType: true } declared && declared.ElemType != t.DataType
                            && !(declared.ElemType == (int)ElementType.BFloat16 && t.DataType == (int)ElementType.UInt16))
                        {
                            failures.Add($"{pb}: data type {t.DataType}, declared {declared.ElemType}");
                            continue;
                        }
                        decoded++;
                    }
                    catch (Exception e)
                    {
                        failures.Add($"{pb}: {e.GetType().Name}: {e.Message}");
                    }
                }
            }
        }
        TestContext.Out.WriteLine(
            $"{folder}: {cases.Length} models; {roundTrips} ModelIO round trips, {irRoundTrips} IR round trips; " +
            $"{tensorFiles} test data files: {decoded} tensors decoded, {stringTensors} string tensors parsed, {nonTensor} non-tensor (sequence/optional/map) files");
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(30)));
        Assert.That(roundTrips, Is.EqualTo(cases.Length));
        Assert.That(irRoundTrips, Is.EqualTo(cases.Length));
        Assert.That(decoded + stringTensors + nonTensor, Is.EqualTo(tensorFiles));
        Assert.That(decoded, Is.GreaterThan(0));
    }

    [Test]
    public void CaseCountMatchesTheInstalledSuite()
    {
        // The issue names about 1,072 cases in these four folders; a large drop means models went unread.
        int total = Folders.Sum(f => Directory.GetDirectories(Path.Combine(TestPaths.OnnxTestData, f))
            .Count(d => File.Exists(Path.Combine(d, "model.onnx"))));
        TestContext.Out.WriteLine($"{total} model.onnx cases in {string.Join(", ", Folders)}");
        Assert.That(total, Is.GreaterThanOrEqualTo(1000));
    }
}
