using System.Text.Json;
using Google.Protobuf.Reflection;
using OnnxPrune.Onnx.Proto;

namespace OnnxPrune.Tests.Onnx;

/// <summary>
/// Our onnx.proto against the official schema shipped in Debian's python3-onnx (onnx 1.12, IR 8): every message,
/// field (number, type, label, packed-ness, referenced type, oneof) and enum value of theirs is in ours, the
/// same. Ours has more (IR 9/10 and later additions): those are listed here, from ONNX's onnx.in.proto.
/// </summary>
public class SchemaTests
{
    /// <summary>Fields we have that onnx 1.12 lacks: (message, field, number, release that added it).</summary>
    private static readonly (string Message, string Field, int Number, string Since)[] KnownFieldAdditions =
    [
        ("onnx.ValueInfoProto", "metadata_props", 4, "1.16 (IR 10)"),
        ("onnx.NodeProto", "overload", 8, "1.16 (IR 10)"),
        ("onnx.NodeProto", "metadata_props", 9, "1.16 (IR 10)"),
        ("onnx.GraphProto", "metadata_props", 16, "1.16 (IR 10)"),
        ("onnx.TensorProto", "metadata_props", 16, "1.16 (IR 10)"),
        ("onnx.FunctionProto", "attribute_proto", 11, "1.13 (IR 9)"),
        ("onnx.FunctionProto", "value_info", 12, "1.16 (IR 10)"),
        ("onnx.FunctionProto", "overload", 13, "1.16 (IR 10)"),
        ("onnx.FunctionProto", "metadata_props", 14, "1.16 (IR 10)"),
    ];

    /// <summary>Enum values we have that onnx 1.12 lacks, or that changed since (IR_VERSION follows the release).</summary>
    private static readonly (string Enum, string Value, int Number, string Since)[] KnownEnumAdditions =
    [
        ("onnx.Version", "IR_VERSION_2021_7_30", 8, "1.13 (IR 9)"),
        ("onnx.Version", "IR_VERSION_2023_5_5", 9, "1.15 (IR 10)"),
        ("onnx.Version", "IR_VERSION", 10, "1.16 (IR 10): the current IR version, 8 in onnx 1.12"),
        ("onnx.TensorProto.DataType", "FLOAT8E4M3FN", 17, "1.14 (IR 9)"),
        ("onnx.TensorProto.DataType", "FLOAT8E4M3FNUZ", 18, "1.14 (IR 9)"),
        ("onnx.TensorProto.DataType", "FLOAT8E5M2", 19, "1.14 (IR 9)"),
        ("onnx.TensorProto.DataType", "FLOAT8E5M2FNUZ", 20, "1.14 (IR 9)"),
        ("onnx.TensorProto.DataType", "UINT4", 21, "1.16 (IR 10)"),
        ("onnx.TensorProto.DataType", "INT4", 22, "1.16 (IR 10)"),
        ("onnx.TensorProto.DataType", "FLOAT4E2M1", 23, "1.18 (IR 11)"),
    ];

    private static JsonElement _official;

    [OneTimeSetUp]
    public void DumpOfficialSchema()
    {
        var result = Processes.RunPython("dump_onnx_schema.py");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        _official = JsonDocument.Parse(result.StdOut).RootElement.Clone();
        TestContext.Out.WriteLine($"official schema from onnx {_official.GetProperty("onnxVersion").GetString()}: " +
            $"{_official.GetProperty("messages").EnumerateObject().Count()} messages, {_official.GetProperty("enums").EnumerateObject().Count()} enums");
    }

    private static Dictionary<string, MessageDescriptor> OurMessages()
    {
        var all = new Dictionary<string, MessageDescriptor>(StringComparer.Ordinal);
        void Add(MessageDescriptor m)
        {
            all[m.FullName] = m;
            foreach (var n in m.NestedTypes) Add(n);
        }
        foreach (var m in OnnxReflection.Descriptor.MessageTypes) Add(m);
        return all;
    }

    private static Dictionary<string, EnumDescriptor> OurEnums()
    {
        var all = new Dictionary<string, EnumDescriptor>(StringComparer.Ordinal);
        foreach (var e in OnnxReflection.Descriptor.EnumTypes) all[e.FullName] = e;
        foreach (var m in OurMessages().Values) foreach (var e in m.EnumTypes) all[e.FullName] = e;
        return all;
    }

    [Test]
    public void EveryOfficialFieldIsOursWithTheSameWireShape()
    {
        var ours = OurMessages();
        var problems = new List<string>();
        int compared = 0;
        foreach (var message in _official.GetProperty("messages").EnumerateObject())
        {
            if (!ours.TryGetValue(message.Name, out var our)) { problems.Add($"message {message.Name} missing"); continue; }
            foreach (var field in message.Value.EnumerateObject())
            {
                var f = our.FindFieldByName(field.Name);
                var where = $"{message.Name}.{field.Name}";
                if (f is null) { problems.Add($"{where} missing"); continue; }
                var theirs = field.Value;
                Check(problems, where, "number", theirs.GetProperty("number").GetInt32(), f.FieldNumber);
                Check(problems, where, "type", theirs.GetProperty("type").GetString(), "TYPE_" + f.FieldType.ToString().ToUpperInvariant());
                Check(problems, where, "label", theirs.GetProperty("label").GetString(),
                    f.IsRepeated ? "LABEL_REPEATED" : f.IsRequired ? "LABEL_REQUIRED" : "LABEL_OPTIONAL");
                Check(problems, where, "packed", theirs.GetProperty("packed").GetBoolean(), f.IsPacked);
                var typeName = f.FieldType switch
                {
                    FieldType.Message or FieldType.Group => f.MessageType.FullName,
                    FieldType.Enum => f.EnumType.FullName,
                    _ => "",
                };
                Check(problems, where, "type name", theirs.GetProperty("typeName").GetString(), typeName);
                Check(problems, where, "oneof", theirs.GetProperty("oneof").GetString(), f.RealContainingOneof?.Name ?? "");
                compared++;
            }
        }
        TestContext.Out.WriteLine($"{compared} official fields compared");
        Assert.That(problems, Is.Empty, string.Join("\n", problems));
        Assert.That(compared, Is.GreaterThan(100));
    }

    [Test]
    public void EveryOfficialEnumValueIsOurs()
    {
        var ours = OurEnums();
        var problems = new List<string>();
        int compared = 0;
        foreach (var e in _official.GetProperty("enums").EnumerateObject())
        {
            if (!ours.TryGetValue(e.Name, out var our)) { problems.Add($"enum {e.Name} missing"); continue; }
            foreach (var v in e.Value.EnumerateObject())
            {
                var value = our.FindValueByName(v.Name);
                if (value is null) { problems.Add($"{e.Name}.{v.Name} missing"); continue; }
                compared++;
                if (value.Number == v.Value.GetInt32()) continue;
                if (KnownEnumAdditions.Any(k => k.Enum == e.Name && k.Value == v.Name && k.Number == value.Number)) continue;
                problems.Add($"{e.Name}.{v.Name}: official {v.Value.GetInt32()}, ours {value.Number}");
            }
        }
        TestContext.Out.WriteLine($"{compared} official enum values compared");
        Assert.That(problems, Is.Empty, string.Join("\n", problems));
        Assert.That(compared, Is.GreaterThan(40));
    }

    [Test]
    public void OurExtrasAreExactlyTheKnownAdditions()
    {
        var official = _official.GetProperty("messages");
        var extraFields = new List<string>();
        foreach (var (name, m) in OurMessages())
        {
            Assert.That(official.TryGetProperty(name, out var theirs), Is.True, $"message {name} is not in the official schema");
            foreach (var f in m.Fields.InFieldNumberOrder())
                if (!theirs.TryGetProperty(f.Name, out _)) extraFields.Add($"{name}.{f.Name} = {f.FieldNumber}");
        }
        var expectedFields = KnownFieldAdditions.Select(k => $"{k.Message}.{k.Field} = {k.Number}");
        Assert.That(extraFields, Is.EquivalentTo(expectedFields));

        var officialEnums = _official.GetProperty("enums");
        var extraValues = new List<string>();
        foreach (var (name, e) in OurEnums())
        {
            Assert.That(officialEnums.TryGetProperty(name, out var theirs), Is.True, $"enum {name} is not in the official schema");
            foreach (var v in e.Values)
                if (!theirs.TryGetProperty(v.Name, out var n) || n.GetInt32() != v.Number) extraValues.Add($"{name}.{v.Name} = {v.Number}");
        }
        Assert.That(extraValues, Is.EquivalentTo(KnownEnumAdditions.Select(k => $"{k.Enum}.{k.Value} = {k.Number}")));
    }

    [Test]
    public void AdditionsUseTheOfficialWireTypes()
    {
        // The additions' shapes, from ONNX's onnx.in.proto (1.16+): metadata_props are repeated
        // StringStringEntryProto; overload is an optional string; attribute_proto repeated AttributeProto;
        // value_info repeated ValueInfoProto.
        var ours = OurMessages();
        foreach (var (message, field, number, _) in KnownFieldAdditions)
        {
            var f = ours[message].FindFieldByNumber(number);
            Assert.That(f, Is.Not.Null, $"{message}.{field}");
            Assert.That(f.Name, Is.EqualTo(field));
            var (type, repeated) = field switch
            {
                "metadata_props" => ("onnx.StringStringEntryProto", true),
                "overload" => ("string", false),
                "attribute_proto" => ("onnx.AttributeProto", true),
                "value_info" => ("onnx.ValueInfoProto", true),
                _ => throw new AssertionException($"no expectation for {field}"),
            };
            Assert.That(f.IsRepeated, Is.EqualTo(repeated), $"{message}.{field} label");
            Assert.That(f.FieldType == FieldType.String ? "string" : f.MessageType?.FullName, Is.EqualTo(type), $"{message}.{field} type");
        }
    }

    private static void Check<T>(List<string> problems, string where, string what, T official, T ours)
    {
        if (!EqualityComparer<T>.Default.Equals(official, ours)) problems.Add($"{where}: {what} official {official}, ours {ours}");
    }
}
