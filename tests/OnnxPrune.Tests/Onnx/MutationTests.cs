using System.Diagnostics;
using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Onnx;

namespace OnnxPrune.Tests.Onnx;

/// <summary>
/// Corrupted real models (bit flips, truncations, insertions, broken tags and length prefixes, biased toward
/// the protobuf structure) either load or fail with an <see cref="OnnxPruneException"/>: never another
/// exception type, never a hang.
/// </summary>
public class MutationTests
{
    private static readonly int Seed =
        int.TryParse(Environment.GetEnvironmentVariable("ONNXPRUNE_MUTATION_SEED"), out var s) ? s : 20261121;
    // 9 shared models → 2,340 cases; ONNXPRUNE_MUTATION_CASES raises it for a longer exploratory run.
    private static readonly int CasesPerModel =
        int.TryParse(Environment.GetEnvironmentVariable("ONNXPRUNE_MUTATION_CASES"), out var n) && n > 0 ? n : 260;
    private static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(20);

    [Test]
    public void CorruptedModelsFailWithTypedExceptionsOnly()
    {
        var files = Directory.GetFiles(TestPaths.SharedModels, "*.onnx").Order(StringComparer.Ordinal).ToArray();
        Assert.That(files, Is.Not.Empty);
        var baseDir = TestPaths.TempDir(); // empty: mutated external references resolve to missing files here
        var originals = files.Select(File.ReadAllBytes).ToArray();
        var structures = originals.Select(WireStructure.Positions).ToArray();
        int caseCount = files.Length * CasesPerModel;
        // Each case is generated from its own seed (Seed + case number), so one case reproduces alone.
        (string File, int Index, string Kind, byte[] Bytes) MakeCase(int i)
        {
            int f = i / CasesPerModel;
            var (kind, bytes) = Mutate(originals[f], structures[f], new Random(Seed + i));
            return (Path.GetFileName(files[f]), i, kind, bytes);
        }

        int loaded = 0, typed = 0;
        var byKind = new Dictionary<string, int>();
        var outcomes = new Dictionary<string, int>();
        var failures = new List<string>();
        var watch = Stopwatch.StartNew();
        var results = new (string Outcome, string? Failure)[caseCount];
        var kinds = new string[caseCount];
        Parallel.For(0, caseCount, new ParallelOptions { MaxDegreeOfParallelism = 2 }, i =>
        {
            var c = MakeCase(i);
            kinds[i] = c.Kind;
            // Every other case skips the validator: the IR import must stand on its own (OnnxModel.FromProto is public).
            bool validate = i % 2 == 0;
            var task = Task.Run(() => LoadAll(c.Bytes, baseDir, $"{c.File}#{c.Index}", validate));
            string label = $"{c.File} case {c.Index} ({c.Kind}; seed {Seed}+{i}; validate {validate})";
            if (!task.Wait(CaseTimeout)) { results[i] = ("timeout", $"{label}: no result after {CaseTimeout.TotalSeconds} s"); return; }
            var e = task.Result;
            if (e is null) results[i] = ("loaded", null);
            else if (e is OnnxPruneException) results[i] = (e.GetType().Name, null);
            else results[i] = ("untyped", $"{label}: {e.GetType().FullName}: {e.Message}\n{e.StackTrace}");
        });
        for (int i = 0; i < caseCount; i++)
        {
            byKind[kinds[i]] = byKind.GetValueOrDefault(kinds[i]) + 1;
            outcomes[results[i].Outcome] = outcomes.GetValueOrDefault(results[i].Outcome) + 1;
            if (results[i].Outcome == "loaded") loaded++;
            else if (results[i].Failure is null) typed++;
            else failures.Add(results[i].Failure!);
        }
        Directory.Delete(baseDir, true);
        TestContext.Out.WriteLine($"seed {Seed}: {caseCount} cases over {files.Length} models in {watch.Elapsed.TotalSeconds:F1} s");
        TestContext.Out.WriteLine("mutations: " + string.Join(", ", byKind.OrderBy(p => p.Key).Select(p => $"{p.Key} {p.Value}")));
        TestContext.Out.WriteLine("outcomes: " + string.Join(", ", outcomes.OrderBy(p => p.Key).Select(p => $"{p.Key} {p.Value}")));
        Assert.That(failures, Is.Empty, string.Join("\n\n", failures.Take(10)));
        Assert.That(caseCount, Is.GreaterThanOrEqualTo(2000));
        Assert.That(loaded + typed, Is.EqualTo(caseCount));
        Assert.That(typed, Is.GreaterThan(caseCount / 4), "most structural corruptions must be detected");
    }

    private static Exception? LoadAll(byte[] bytes, string baseDir, string source, bool validate)
    {
        try
        {
            var proto = ModelIO.Load(bytes, baseDir, source, new ModelLoadOptions { Validate = validate });
            var model = OnnxModel.FromProto(proto);
            var summary = ModelSummary.Of(model);
            _ = summary.Parameters;
            foreach (var c in model.Graph.Constants) _ = c.Data;
            _ = model.ToProto();
            model.Graph.TopologicalSort();
            model.Graph.EliminateDeadCode();
            _ = model.ToBytes();
            return null;
        }
        catch (Exception e) { return e; }
    }

    private static (string Kind, byte[] Bytes) Mutate(byte[] original, WireStructure structure, Random random)
    {
        int n = original.Length;
        // Half the positions come from the protobuf structure (tags, length prefixes) or the first/last 4 KiB.
        int Position()
        {
            switch (random.Next(4))
            {
                case 0: return structure.Tags.Count > 0 ? structure.Tags[random.Next(structure.Tags.Count)] : random.Next(n);
                case 1: return random.Next(2) == 0 ? random.Next(Math.Min(4096, n)) : n - 1 - random.Next(Math.Min(4096, n));
                default: return random.Next(n);
            }
        }
        int kind = random.Next(8);
        switch (kind)
        {
            case 0:
            {
                var b = (byte[])original.Clone();
                int count = 1 + random.Next(4);
                for (int k = 0; k < count; k++) { int p = Position(); b[p] ^= (byte)(1 << random.Next(8)); }
                return ("bit flip", b);
            }
            case 1:
            {
                var b = (byte[])original.Clone();
                b[Position()] = (byte)random.Next(256);
                return ("random byte", b);
            }
            case 2:
            {
                int p = random.Next(3) == 0 ? random.Next(n) : Position();
                return ("truncation", original.AsSpan(0, p).ToArray());
            }
            case 3:
            {
                int p = Position();
                var insert = new byte[1 + random.Next(16)];
                random.NextBytes(insert);
                return ("insertion", [.. original.AsSpan(0, p), .. insert, .. original.AsSpan(p)]);
            }
            case 4 when structure.Lengths.Count > 0:
            {
                // Zero a length prefix: the field becomes empty and its payload is read as fields.
                var (pos, len) = structure.Lengths[random.Next(structure.Lengths.Count)];
                var b = (byte[])original.Clone();
                b[pos] = 0;
                for (int k = 1; k < len; k++) b[pos + k] = 0x80 | 0; // keep the varint's length: 0x80.. then end byte 0
                if (len > 1) { b[pos] = 0x80; b[pos + len - 1] = 0; }
                return ("zeroed length", b);
            }
            case 5 when structure.Lengths.Count > 0:
            {
                // Grow or shrink a length prefix in place (same varint width).
                var (pos, len) = structure.Lengths[random.Next(structure.Lengths.Count)];
                var b = (byte[])original.Clone();
                int bit = random.Next(7 * len);
                b[pos + bit / 7] ^= (byte)(1 << (bit % 7));
                return ("changed length", b);
            }
            case 6 when structure.Tags.Count > 0:
            {
                // Change a tag's field number or wire type.
                var b = (byte[])original.Clone();
                int p = structure.Tags[random.Next(structure.Tags.Count)];
                b[p] = random.Next(2) == 0 ? (byte)((b[p] & ~7) | random.Next(8)) : (byte)(b[p] ^ (8 << random.Next(4)));
                return ("changed tag", b);
            }
            default:
            {
                // Delete a run of bytes.
                int p = Position();
                int len = Math.Min(n - p, 1 + random.Next(64));
                return ("deletion", [.. original.AsSpan(0, p), .. original.AsSpan(p + len)]);
            }
        }
    }

    /// <summary>Positions of tags and length prefixes found by walking the protobuf wire format (nested
    /// length-delimited fields are walked when they parse as messages).</summary>
    private sealed class WireStructure
    {
        public readonly List<int> Tags = new();
        public readonly List<(int Position, int Length)> Lengths = new();

        public static WireStructure Positions(byte[] data)
        {
            var s = new WireStructure();
            s.Walk(data, 0, data.Length, 0);
            return s;
        }

        private bool Walk(byte[] d, int start, int end, int depth)
        {
            var tags = new List<int>();
            var lengths = new List<(int, int)>();
            var nested = new List<(int, int)>();
            int p = start;
            while (p < end)
            {
                int tagPos = p;
                if (!ReadVarint(d, ref p, end, out ulong tag) || tag >> 3 == 0) return false;
                tags.Add(tagPos);
                switch ((int)(tag & 7))
                {
                    case 0: if (!ReadVarint(d, ref p, end, out _)) return false; break;
                    case 1: p += 8; break;
                    case 5: p += 4; break;
                    case 2:
                    {
                        int lenPos = p;
                        if (!ReadVarint(d, ref p, end, out ulong len) || len > (ulong)(end - p)) return false;
                        lengths.Add((lenPos, p - lenPos));
                        if (len > 1 && depth < 12) nested.Add((p, p + (int)len));
                        p += (int)len;
                        break;
                    }
                    default: return false;
                }
                if (p > end) return false;
            }
            Tags.AddRange(tags);
            Lengths.AddRange(lengths);
            foreach (var (a, b) in nested) Walk(d, a, b, depth + 1);
            return true;
        }

        private static bool ReadVarint(byte[] d, ref int p, int end, out ulong value)
        {
            value = 0;
            for (int shift = 0; shift < 64 && p < end; shift += 7)
            {
                byte b = d[p++];
                value |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0) return true;
            }
            return false;
        }
    }
}
