using System.Diagnostics;
using Google.Protobuf;
using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Onnx;
using OnnxPrune.Onnx.Proto;
using OnnxPrune.Tensors;
using AttrType = OnnxPrune.Onnx.Proto.AttributeProto.Types.AttributeType;

namespace OnnxPrune.Tests.Onnx;

/// <summary>
/// Mutations at the message level, where byte flips rarely reach: bad dims, data types, tensor sizes and external
/// references, renamed inputs and outputs (undefined values, duplicates, cycles), wrong attribute types, broken
/// Constant nodes and subgraphs. Loading (validated or not) and using the IR either works or throws an
/// <see cref="OnnxPruneException"/>.
/// </summary>
public class SemanticMutationTests
{
    private static readonly int Seed =
        int.TryParse(Environment.GetEnvironmentVariable("ONNXPRUNE_MUTATION_SEED"), out var s) ? s : 424242;
    private static readonly int CasesPerModel =
        int.TryParse(Environment.GetEnvironmentVariable("ONNXPRUNE_SEMANTIC_CASES"), out var n) && n > 0 ? n : 120;

    [Test]
    public void MessageLevelMutationsFailWithTypedExceptionsOnly()
    {
        var files = Directory.GetFiles(TestPaths.SharedModels, "*.onnx").Order(StringComparer.Ordinal).ToArray();
        var models = files.Select(f => ModelIO.Load(f)).ToArray();
        var baseDir = TestPaths.TempDir();
        File.WriteAllBytes(Path.Combine(baseDir, "data.bin"), new byte[4096]);
        int total = files.Length * CasesPerModel;
        var outcomes = new string[total];
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var watch = Stopwatch.StartNew();
        Parallel.For(0, total, new ParallelOptions { MaxDegreeOfParallelism = 2 }, i =>
        {
            int f = i / CasesPerModel;
            var random = new Random(Seed + i);
            var m = models[f].Clone();
            var applied = new List<string>();
            int count = 1 + random.Next(3);
            for (int k = 0; k < count; k++) applied.Add(Mutate(m, random));
            var bytes = m.ToByteArray();
            bool validate = random.Next(2) == 0;
            var task = Task.Run(() => LoadAll(bytes, baseDir, validate));
            var label = $"{Path.GetFileName(files[f])} case {i} (seed {Seed}+{i}, validate {validate}): {string.Join("; ", applied)}";
            if (!task.Wait(TimeSpan.FromSeconds(20))) { failures.Add($"{label}: timeout"); outcomes[i] = "timeout"; return; }
            var e = task.Result;
            outcomes[i] = e is null ? "loaded" : e.GetType().Name;
            if (e is not null and not OnnxPruneException) failures.Add($"{label}: {e.GetType().FullName}: {e.Message}\n{e.StackTrace}");
        });
        Directory.Delete(baseDir, true);
        TestContext.Out.WriteLine($"seed {Seed}: {total} cases in {watch.Elapsed.TotalSeconds:F1} s; outcomes: " +
            string.Join(", ", outcomes.GroupBy(o => o).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}")));
        Assert.That(failures, Is.Empty, string.Join("\n\n", failures.Take(8)));
        Assert.That(outcomes.Count(o => o == "loaded"), Is.LessThan(total), "some mutations must be caught");
    }

    private static Exception? LoadAll(byte[] bytes, string baseDir, bool validate)
    {
        try
        {
            var proto = ModelIO.Load(bytes, baseDir, "<mutated>", new ModelLoadOptions { Validate = validate });
            var model = OnnxModel.FromProto(proto);
            var summary = ModelSummary.Of(model);
            _ = System.Text.Json.JsonSerializer.Serialize(summary);
            foreach (var v in model.Graph.Values) { _ = v.ToString(); _ = v.Shape; _ = v.ElementType; }
            foreach (var c in model.Graph.Constants) { _ = c.ToString(); _ = c.Data.ToString(); }
            foreach (var node in model.Graph.Nodes)
                foreach (var name in node.Attributes.Names.ToArray())
                {
                    var a = node.Attributes.Find(name)!;
                    if (a.Type == AttrType.Int) _ = node.Attributes.GetInt(name, 0);
                    if (a.Type == AttrType.Float) _ = node.Attributes.GetFloat(name, 0);
                    if (a.Type == AttrType.Ints) _ = node.Attributes.GetInts(name);
                    if (a.Type == AttrType.Tensor) _ = node.Attributes.GetTensor(name);
                }
            _ = model.ToProto();
            model.Graph.TopologicalSort();
            model.Graph.EliminateDeadCode();
            _ = model.ToBytes();
            return null;
        }
        catch (Exception e) { return e; }
    }

    private static readonly string[] Locations = ["data.bin", "missing.bin", "../data.bin", "/etc/hostname", "", "a\0b", "sub/../data.bin", ".", "data.bin/"];
    private static readonly long[] Numbers = [-1, 0, 1, 3, 7, 4096, 1L << 31, 1L << 40, long.MaxValue, long.MinValue, int.MaxValue];

    private static string Mutate(ModelProto m, Random r)
    {
        var g = m.Graph;
        var tensors = new List<TensorProto>();
        ModelTensors.ForEach(m, (t, _) => tensors.Add(t));
        var names = g.Input.Select(i => i.Name).Concat(g.Initializer.Select(t => t.Name)).Concat(g.Node.SelectMany(n => n.Output)).ToArray();
        T Pick<T>(IList<T> list) => list[r.Next(list.Count)];
        long Number() => r.Next(3) == 0 ? r.Next(-5, 100) : Pick(Numbers);
        switch (r.Next(16))
        {
            case 0 when tensors.Count > 0:
            {
                var t = Pick(tensors);
                if (t.Dims.Count == 0) t.Dims.Add(Number()); else t.Dims[r.Next(t.Dims.Count)] = Number();
                return $"dims of '{t.Name}'";
            }
            case 1 when tensors.Count > 0:
            {
                var t = Pick(tensors);
                t.DataType = r.Next(-2, 30);
                return $"data type of '{t.Name}' = {t.DataType}";
            }
            case 2 when tensors.Count > 0:
            {
                var t = Pick(tensors);
                var raw = t.RawData.ToByteArray();
                int len = Math.Max(0, raw.Length + r.Next(-9, 9));
                Array.Resize(ref raw, len);
                t.RawData = ByteString.CopyFrom(raw);
                return $"raw_data of '{t.Name}' resized";
            }
            case 3 when tensors.Count > 0:
            {
                var t = Pick(tensors);
                t.ClearRawData();
                int count = r.Next(0, 20);
                switch (r.Next(5))
                {
                    case 0: t.FloatData.AddRange(Enumerable.Repeat(1.5f, count)); break;
                    case 1: t.Int32Data.AddRange(Enumerable.Repeat(-3, count)); break;
                    case 2: t.Int64Data.AddRange(Enumerable.Repeat(5L, count)); break;
                    case 3: t.DoubleData.AddRange(Enumerable.Repeat(2.0, count)); break;
                    default: t.StringData.Add(ByteString.CopyFromUtf8("s")); break;
                }
                return $"typed data of '{t.Name}'";
            }
            case 4 when tensors.Count > 0:
            {
                var t = Pick(tensors);
                t.DataLocation = r.Next(4) == 0 ? (TensorProto.Types.DataLocation)7 : TensorProto.Types.DataLocation.External;
                if (r.Next(4) != 0) t.ClearRawData();
                t.ExternalData.Clear();
                if (r.Next(5) != 0) t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = Pick(Locations) });
                if (r.Next(2) == 0) t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = Number().ToString() });
                if (r.Next(2) == 0) t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = r.Next(5) == 0 ? "x" : Number().ToString() });
                return $"external data of '{t.Name}'";
            }
            case 5 when g.Node.Count > 0:
            {
                var n = Pick(g.Node);
                if (n.Input.Count == 0) n.Input.Add(Pick(names)); else n.Input[r.Next(n.Input.Count)] = r.Next(4) == 0 ? "undefined_" + r.Next(9) : Pick(names);
                return $"input of '{n.Name}'";
            }
            case 6 when g.Node.Count > 0:
            {
                var n = Pick(g.Node);
                if (n.Output.Count > 0) n.Output[r.Next(n.Output.Count)] = r.Next(5) == 0 ? "" : Pick(names);
                return $"output of '{n.Name}'";
            }
            case 7 when g.Node.Count > 0:
            {
                var n = Pick(g.Node);
                if (n.Attribute.Count == 0) return "no attribute";
                var a = Pick(n.Attribute);
                a.Type = (AttrType)r.Next(0, 16);
                return $"type of attribute '{a.Name}' of '{n.Name}'";
            }
            case 8 when g.Node.Count > 0:
            {
                // Turn a node into a Constant of some (possibly wrong) form.
                var n = Pick(g.Node);
                n.OpType = "Constant";
                n.Domain = r.Next(4) == 0 ? "ai.onnx" : "";
                n.Input.Clear();
                n.Attribute.Clear();
                var a = new AttributeProto { Name = Pick(new[] { "value", "value_float", "value_floats", "value_int", "value_ints", "sparse_value", "value_string" }) };
                a.Type = (AttrType)r.Next(0, 15);
                switch (r.Next(5))
                {
                    case 0: if (tensors.Count > 0) a.T = Pick(tensors).Clone(); break;
                    case 1: a.F = 1; break;
                    case 2: a.Ints.Add(Number()); break;
                    case 3: a.Floats.Add(2); break;
                }
                n.Attribute.Add(a);
                if (r.Next(3) == 0) n.Output.Add("extra_" + r.Next(9));
                return $"'{n.Name}' made a Constant ({a.Name}, {a.Type})";
            }
            case 9:
            {
                var list = r.Next(2) == 0 ? g.Input : g.Output;
                if (list.Count == 0) return "no value info";
                var vi = Pick(list);
                vi.Name = r.Next(3) == 0 ? "" : Pick(names);
                return "graph input/output renamed";
            }
            case 10:
            {
                var all = g.Input.Concat(g.Output).Concat(g.ValueInfo).ToArray();
                if (all.Length == 0) return "no value info";
                var vi = Pick(all);
                vi.Type ??= new TypeProto();
                switch (r.Next(4))
                {
                    case 0: vi.Type.TensorType = new TypeProto.Types.Tensor { ElemType = r.Next(-3, 40) }; break;
                    case 1:
                        vi.Type.TensorType ??= new TypeProto.Types.Tensor();
                        vi.Type.TensorType.Shape = new TensorShapeProto { Dim = { new TensorShapeProto.Types.Dimension { DimValue = Number() }, new TensorShapeProto.Types.Dimension() } };
                        break;
                    case 2: vi.Type.SequenceType = new TypeProto.Types.Sequence(); break;
                    default: vi.Type = null; break;
                }
                return $"type of '{vi.Name}'";
            }
            case 11 when g.Node.Count > 0:
            {
                var n = Pick(g.Node);
                n.OpType = r.Next(2) == 0 ? "" : n.OpType;
                n.Name = r.Next(2) == 0 ? "" : n.Name;
                n.Domain = r.Next(3) == 0 ? "com.custom" : n.Domain;
                return "node op/name/domain";
            }
            case 12 when g.Node.Count > 0:
            {
                // A subgraph attribute that reads some names, possibly undefined, possibly its own outputs.
                var n = Pick(g.Node);
                var body = new GraphProto { Name = "sub" + r.Next(9) };
                var inner = new NodeProto { OpType = "Identity", Input = { r.Next(3) == 0 ? "nowhere" : Pick(names) }, Output = { "inner_" + r.Next(3) } };
                body.Node.Add(inner);
                body.Output.Add(new ValueInfoProto { Name = r.Next(4) == 0 ? Pick(names) : inner.Output[0] });
                n.Attribute.Add(new AttributeProto { Name = "body", Type = r.Next(4) == 0 ? AttrType.Graphs : AttrType.Graph, G = body });
                return $"subgraph on '{n.Name}'";
            }
            case 13:
            {
                m.IrVersion = Number();
                if (r.Next(2) == 0) m.OpsetImport.Add(new OperatorSetIdProto { Domain = r.Next(2) == 0 ? "" : "ai.onnx", Version = Number() });
                return "ir version / opsets";
            }
            case 14 when g.Node.Count > 1:
            {
                // Swap two nodes (order only) or duplicate one.
                int a = r.Next(g.Node.Count), b = r.Next(g.Node.Count);
                if (r.Next(2) == 0) (g.Node[a], g.Node[b]) = (g.Node[b], g.Node[a]);
                else g.Node.Add(g.Node[a].Clone());
                return "node order / duplicate node";
            }
            default:
            {
                if (g.Initializer.Count == 0) return "no initializer";
                var t = Pick(g.Initializer);
                if (r.Next(2) == 0) t.Name = r.Next(3) == 0 ? "" : Pick(names);
                else g.Initializer.Add(t.Clone());
                return $"initializer '{t.Name}' renamed or duplicated";
            }
        }
    }
}
