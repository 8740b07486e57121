using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OnnxPrune.Analysis;
using OnnxPrune.Pruning;
using OnnxPrune.Tasks;

namespace OnnxPrune.Tests.Tasks;

/// <summary>The task library on disk: round trip, content-addressed ids, corrupt and foreign entries, temporaries,
/// merge.</summary>
public class TaskLibraryTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = TestPaths.TempDir();

    [TearDown]
    public void TearDown() { try { Directory.Delete(_dir, true); } catch (IOException) { } }

    private string Lib(string name = "lib") => Path.Combine(_dir, name);

    [Test]
    public void AddThenListRoundTripsEveryField()
    {
        var lib = TaskLibrary.OpenOrCreate(Lib());
        var entry = TaskEntries.Make([0, 3, 7], new() { ["conv1"] = (8, [1, 2, 5]), ["fc"] = (16, [0, 15]) },
            features: [0.25f, -1.5f, 3e-8f], fisher: [0, 1e-12f, 7]) with
        {
            Task = new TaskDescriptor { DataSet = "fashion-mnist", Classes = [7, 0, 3], Label = "shoes" },
            Budget = new TaskBudget { Kind = TaskBudgetKind.Parameters, Value = 120000 },
            Accuracy = 0.8125,
            Steps = 601,
            CpuSeconds = 12.75,
            Properties = new Dictionary<string, string> { ["criterion"] = "taylor", ["rounds"] = "3" },
        };
        var added = lib.Add(entry);

        var listing = lib.List(new TaskListingOptions { Strict = true });
        Assert.That(listing.Entries, Has.Count.EqualTo(1));
        Assert.That(listing.Skipped, Is.Empty);
        var back = listing.Entries[0];
        Assert.That(back.Id, Is.EqualTo(added.Id));
        Assert.That(back.Task.DataSet, Is.EqualTo("fashion-mnist"));
        Assert.That(back.Task.Classes, Is.EqualTo(new[] { 7, 0, 3 }), "the task's class order is its logit order and is kept");
        Assert.That(back.Task.Label, Is.EqualTo("shoes"));
        Assert.That(back.BaseFingerprint, Is.EqualTo(TaskEntries.BaseA));
        Assert.That(back.Embeddings[TaskEmbeddingKinds.Features], Is.EqualTo(new[] { 0.25f, -1.5f, 3e-8f }), "floats round-trip exactly");
        Assert.That(back.Embeddings[TaskEmbeddingKinds.Fisher], Is.EqualTo(new[] { 0, 1e-12f, 7 }));
        Assert.That(back.Masks.Keys, Is.EquivalentTo(new[] { "conv1", "fc" }));
        Assert.That(back.Masks["conv1"].Size, Is.EqualTo(8));
        Assert.That(back.Masks["conv1"].Kept, Is.EqualTo(new long[] { 1, 2, 5 }));
        Assert.That(back.Masks["fc"].Kept, Is.EqualTo(new long[] { 0, 15 }));
        Assert.That(back.Budget, Is.EqualTo(entry.Budget));
        Assert.That(back.Accuracy, Is.EqualTo(0.8125));
        Assert.That(back.Steps, Is.EqualTo(601));
        Assert.That(back.CpuSeconds, Is.EqualTo(12.75));
        Assert.That(back.OnnxPruneVersion, Is.EqualTo(TaskEntry.CurrentOnnxPruneVersion).And.Not.Empty);
        Assert.That(back.CreatedUtc, Is.EqualTo(entry.CreatedUtc));
        Assert.That(back.Properties, Is.EquivalentTo(entry.Properties));
        Assert.That(lib.Load(added.Id[..8]), Is.Not.Null.And.Property(nameof(TaskEntry.Id)).EqualTo(added.Id), "load by id prefix");
    }

    [Test]
    public void IdIsTheSha256OfTheFileAndTheFileIsNamedByIt()
    {
        var lib = TaskLibrary.OpenOrCreate(Lib());
        var added = lib.Add(TaskEntries.Simple([1, 2, 3]));
        var files = Directory.GetFiles(lib.EntriesDirectory);
        Assert.That(files, Has.Length.EqualTo(1));
        Assert.That(Path.GetFileName(files[0]), Is.EqualTo(added.Id + ".json"));
        Assert.That(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(files[0]))), Is.EqualTo(added.Id));
    }

    [Test]
    public void TheFileUsesTheDocumentedFieldNames()
    {
        var lib = TaskLibrary.OpenOrCreate(Lib());
        var added = lib.Add(TaskEntries.Simple([1, 2, 3]) with { Budget = new TaskBudget { Kind = TaskBudgetKind.GlobalRatio, Value = 0.7 } });
        using var doc = JsonDocument.Parse(File.ReadAllBytes(lib.EntryPath(added.Id)));
        var root = doc.RootElement;
        foreach (var key in new[] { "formatVersion", "task", "baseFingerprint", "embeddings", "masks", "budget", "accuracy", "steps", "cpuSeconds", "onnxPruneVersion", "createdUtc", "properties" })
            Assert.That(root.TryGetProperty(key, out _), Is.True, $"field '{key}' (TASKS.md documents it)");
        Assert.That(root.TryGetProperty("id", out _), Is.False, "the id is the file's hash, not a field");
        Assert.That(root.GetProperty("formatVersion").GetInt32(), Is.EqualTo(1));
        Assert.That(root.GetProperty("budget").GetProperty("kind").GetString(), Is.EqualTo("global-ratio"));
        Assert.That(root.GetProperty("masks").GetProperty("conv1").GetProperty("size").GetInt64(), Is.EqualTo(8));
        Assert.That(root.GetProperty("masks").GetProperty("conv1").GetProperty("kept").GetArrayLength(), Is.EqualTo(4));
        Assert.That(root.GetProperty("task").GetProperty("dataSet").GetString(), Is.EqualTo("fashion-mnist"));
        using var manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(lib.Root, TaskLibrary.ManifestFileName)));
        Assert.That(manifest.RootElement.GetProperty("format").GetString(), Is.EqualTo("onnxprune-task-library"));
        Assert.That(manifest.RootElement.GetProperty("version").GetInt32(), Is.EqualTo(1));
    }

    [Test]
    public void AddingTheSameEntryTwiceKeepsOneFileAndDistinctEntriesGetDistinctIds()
    {
        var lib = TaskLibrary.OpenOrCreate(Lib());
        var e = TaskEntries.Simple([1, 2, 3]);
        var a = lib.Add(e);
        var b = lib.Add(e);
        var c = lib.Add(e with { CreatedUtc = e.CreatedUtc.AddTicks(1) });
        Assert.That(b.Id, Is.EqualTo(a.Id));
        Assert.That(c.Id, Is.Not.EqualTo(a.Id));
        Assert.That(lib.List().Entries.Select(x => x.Id), Is.EquivalentTo(new[] { a.Id, c.Id }));
    }

    [Test]
    public void AnInvalidEntryIsRefusedAndNothingIsWritten()
    {
        var lib = TaskLibrary.OpenOrCreate(Lib());
        var bad = TaskEntries.Simple([1, 2, 3]) with
        {
            Masks = new Dictionary<string, GroupMask> { ["conv1"] = new GroupMask { Size = 4, Kept = [0, 4] } },
        };
        var ex = Assert.Throws<ArgumentException>(() => lib.Add(bad))!;
        Assert.That(ex.Message, Does.Contain("conv1").And.Contain("outside [0, 4)"));
        var nan = TaskEntries.Simple([1, 2, 3]) with { Embeddings = new Dictionary<string, float[]> { ["features"] = [1, float.NaN] } };
        Assert.That(() => lib.Add(nan), Throws.ArgumentException.With.Message.Contains("non-finite"));
        Assert.That(Directory.GetFiles(lib.EntriesDirectory), Is.Empty);
    }

    [Test]
    public void ATruncatedEntryIsSkippedWithItsReasonAndLoadNamesTheFile()
    {
        var lib = TaskLibrary.OpenOrCreate(Lib());
        var good = lib.Add(TaskEntries.Simple([1, 2, 3]));
        var bad = lib.Add(TaskEntries.Simple([4, 5, 6]));
        var path = lib.EntryPath(bad.Id);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);

        var listing = lib.List();
        Assert.That(listing.Entries.Select(e => e.Id), Is.EqualTo(new[] { good.Id }));
        Assert.That(listing.Skipped, Has.Count.EqualTo(1));
        Assert.That(listing.Skipped[0].File, Is.EqualTo(path));
        Assert.That(listing.Skipped[0].Reason, Does.Contain("SHA-256"));

        var ex = Assert.Throws<CorruptTaskEntryException>(() => lib.Load(bad.Id))!;
        Assert.That(ex.Message, Does.Contain(path));
        Assert.That(ex.Path, Is.EqualTo(path));
        Assert.That(() => lib.List(new TaskListingOptions { Strict = true }), Throws.TypeOf<CorruptTaskEntryException>());
        Assert.That(ex, Is.InstanceOf<OnnxPruneException>());
    }

    [Test]
    public void AFileWithTheRightHashButNotAnEntryIsCorrupt()
    {
        var lib = TaskLibrary.OpenOrCreate(Lib());
        var junk = Encoding.UTF8.GetBytes("{\"task\": 5}");
        var junkPath = WriteNamedByHash(lib, junk);
        // A newer format version: refused with the version named.
        var good = lib.Add(TaskEntries.Simple([1, 2, 3]));
        var text = File.ReadAllText(lib.EntryPath(good.Id)).Replace("\"formatVersion\":1", "\"formatVersion\":2", StringComparison.Ordinal);
        Assert.That(text, Does.Contain("\"formatVersion\":2"));
        var newerPath = WriteNamedByHash(lib, Encoding.UTF8.GetBytes(text));
        File.WriteAllText(Path.Combine(lib.EntriesDirectory, "notes.json"), "{}");

        var listing = lib.List();
        Assert.That(listing.Entries.Select(e => e.Id), Is.EqualTo(new[] { good.Id }));
        var reasons = listing.Skipped.ToDictionary(s => Path.GetFileName(s.File), s => s.Reason);
        Assert.That(reasons[Path.GetFileName(junkPath)], Does.Contain("not a task entry"));
        Assert.That(reasons[Path.GetFileName(newerPath)], Does.Contain("format version 2"));
        Assert.That(reasons["notes.json"], Does.Contain("not an entry id"));
    }

    private static string WriteNamedByHash(TaskLibrary lib, byte[] bytes)
    {
        var path = lib.EntryPath(Convert.ToHexStringLower(SHA256.HashData(bytes)));
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Test]
    public void ForBaseModelRefusesEntriesOfAnotherModelNamingBothFingerprints()
    {
        var lib = TaskLibrary.OpenOrCreate(Lib());
        var mine = lib.Add(TaskEntries.Simple([1, 2, 3], TaskEntries.BaseA));
        Assert.That(lib.ForBaseModel(TaskEntries.BaseA).Entries.Select(e => e.Id), Is.EqualTo(new[] { mine.Id }));
        Assert.That(lib.ForBaseModel(TaskEntries.BaseA.ToUpperInvariant()).Entries, Has.Count.EqualTo(1), "hex compares case-insensitively");

        var foreign = lib.Add(TaskEntries.Simple([4, 5, 6], TaskEntries.BaseB));
        var ex = Assert.Throws<BaseModelMismatchException>(() => lib.ForBaseModel(TaskEntries.BaseA))!;
        Assert.That(ex.Expected, Is.EqualTo(TaskEntries.BaseA));
        Assert.That(ex.Found, Is.EqualTo(TaskEntries.BaseB));
        Assert.That(ex.Message, Does.Contain(TaskEntries.BaseA).And.Contain(TaskEntries.BaseB).And.Contain(foreign.Id));

        Assert.That(lib.List(new TaskListingOptions { BaseFingerprint = TaskEntries.BaseA }).Entries.Select(e => e.Id), Is.EqualTo(new[] { mine.Id }));
        Assert.That(lib.List(new TaskListingOptions { BaseFingerprint = TaskEntries.BaseB }).Entries.Select(e => e.Id), Is.EqualTo(new[] { foreign.Id }));
        Assert.That(lib.List().Entries, Has.Count.EqualTo(2));
    }

    [Test]
    public void TemporariesAreNeverListedAndOnlyStaleOnesAreCleaned()
    {
        var lib = TaskLibrary.OpenOrCreate(Lib());
        var good = lib.Add(TaskEntries.Simple([1, 2, 3]));
        var bytes = File.ReadAllBytes(lib.EntryPath(good.Id));
        var fresh = Path.Combine(lib.EntriesDirectory, $".{new string('a', 64)}.json.123.{Guid.NewGuid():N}.tmp");
        var stale = Path.Combine(lib.EntriesDirectory, $".{new string('b', 64)}.json.456.{Guid.NewGuid():N}.tmp");
        File.WriteAllBytes(fresh, bytes[..10]);
        File.WriteAllBytes(stale, bytes[..20]);
        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddHours(-2));

        var listing = lib.List(new TaskListingOptions { Strict = true });
        Assert.That(listing.Entries.Select(e => e.Id), Is.EqualTo(new[] { good.Id }));
        Assert.That(listing.PendingTemporaries, Is.EqualTo(2));

        Assert.That(lib.CleanStaleTemporaries(), Is.EqualTo(1));
        Assert.That(File.Exists(stale), Is.False);
        Assert.That(File.Exists(fresh), Is.True, "a young temporary may belong to a live writer");
        Assert.That(lib.CleanStaleTemporaries(TimeSpan.Zero), Is.EqualTo(1));
        Assert.That(lib.List().PendingTemporaries, Is.Zero);
        Assert.That(lib.List().Entries, Has.Count.EqualTo(1));
    }

    [Test]
    public void MergeCopiesWhatIsMissingSkipsCorruptFilesAndIsIdempotent()
    {
        var a = TaskLibrary.OpenOrCreate(Lib("a"));
        var b = TaskLibrary.OpenOrCreate(Lib("b"));
        var e1 = a.Add(TaskEntries.Simple([1, 2, 3], minute: 1));
        var e2 = a.Add(TaskEntries.Simple([4, 5, 6], minute: 2));
        Assert.That(b.Add(TaskEntries.Simple([4, 5, 6], minute: 2)).Id, Is.EqualTo(e2.Id), "the same entry has the same id in any library");
        var e3 = b.Add(TaskEntries.Simple([7, 8, 9], minute: 3));
        var broken = b.Add(TaskEntries.Simple([0, 1, 2], minute: 4));
        File.WriteAllText(b.EntryPath(broken.Id), "{");

        var report = TaskLibrary.Merge(a.Root, [b.Root]);
        Assert.That(report.Added, Is.EqualTo(1));
        Assert.That(report.AlreadyPresent, Is.EqualTo(1));
        Assert.That(report.Skipped.Select(s => s.File), Is.EqualTo(new[] { b.EntryPath(broken.Id) }));
        Assert.That(a.List(new TaskListingOptions { Strict = true }).Entries.Select(e => e.Id), Is.EqualTo(new[] { e1.Id, e2.Id, e3.Id }));

        var again = TaskLibrary.Merge(a.Root, [b.Root]);
        Assert.That(again.Added, Is.Zero);
        Assert.That(again.AlreadyPresent, Is.EqualTo(2));

        // Merging into a new library equals copying the entry files together by hand.
        var merged = TaskLibrary.Merge(Lib("c"), [a.Root, b.Root]);
        Assert.That(merged.Added, Is.EqualTo(3));
        var d = TaskLibrary.OpenOrCreate(Lib("d"));
        foreach (var f in Directory.GetFiles(a.EntriesDirectory).Concat(Directory.GetFiles(b.EntriesDirectory)))
            if (Path.GetFileName(f) != broken.Id + ".json") File.Copy(f, Path.Combine(d.EntriesDirectory, Path.GetFileName(f)), overwrite: true);
        Assert.That(d.List(new TaskListingOptions { Strict = true }).Entries.Select(e => e.Id),
            Is.EqualTo(TaskLibrary.Open(Lib("c")).List().Entries.Select(e => e.Id)));
    }

    [Test]
    public void OpenRefusesAFolderThatIsNotALibraryOrIsOfANewerFormat()
    {
        Directory.CreateDirectory(Lib("plain"));
        var ex = Assert.Throws<TaskLibraryException>(() => TaskLibrary.Open(Lib("plain")))!;
        Assert.That(ex.Message, Does.Contain(Lib("plain")).And.Contain("library.json"));

        var lib = TaskLibrary.OpenOrCreate(Lib("newer"));
        File.WriteAllText(Path.Combine(lib.Root, "library.json"), "{\"format\":\"onnxprune-task-library\",\"version\":7}");
        Assert.That(() => TaskLibrary.Open(lib.Root), Throws.TypeOf<TaskLibraryException>().With.Message.Contains("version 7"));
        Assert.That(() => TaskLibrary.Merge(Lib("x"), [lib.Root]), Throws.TypeOf<TaskLibraryException>().With.Message.Contains("version 7"));
    }

    [Test]
    public void LoadRefusesUnknownAndMalformedIds()
    {
        var lib = TaskLibrary.OpenOrCreate(Lib());
        lib.Add(TaskEntries.Simple([1, 2, 3]));
        Assert.That(() => lib.Load("abc"), Throws.TypeOf<TaskLibraryException>().With.Message.Contains("6 hex"));
        Assert.That(() => lib.Load(new string('f', 64)), Throws.TypeOf<TaskLibraryException>().With.Message.Contains("no entry"));
    }

    [Test]
    public void FindMatchesTaskModelAndBudget()
    {
        var lib = TaskLibrary.OpenOrCreate(Lib());
        var a = lib.Add(TaskEntries.Simple([0, 3, 7], minute: 1));
        var b = lib.Add(TaskEntries.Simple([0, 3, 7], minute: 2) with { Budget = new TaskBudget { Kind = TaskBudgetKind.Ratio, Value = 0.8 } });
        lib.Add(TaskEntries.Simple([0, 3, 7], TaskEntries.BaseB, minute: 3));
        lib.Add(TaskEntries.Simple([0, 3, 8], minute: 4));
        var task = new TaskDescriptor { DataSet = "fashion-mnist", Classes = [7, 3, 0] };
        Assert.That(lib.Find(task, TaskEntries.BaseA).Select(e => e.Id), Is.EqualTo(new[] { a.Id, b.Id }));
        Assert.That(lib.Find(task, TaskEntries.BaseA, new TaskBudget { Kind = TaskBudgetKind.Ratio, Value = 0.8 }).Select(e => e.Id), Is.EqualTo(new[] { b.Id }));
        Assert.That(lib.Find(task with { DataSet = "mnist" }, TaskEntries.BaseA), Is.Empty);
        Assert.That(lib.Find(task with { Label = "x" }, TaskEntries.BaseA), Is.Empty);
    }

    [Test]
    public void BudgetsRoundTripThroughThePlannerTypes()
    {
        PruningBudget[] budgets = [new UniformRatioBudget(0.3), new GlobalRatioBudget(0.7), new TargetBudget(CostMetric.Parameters, 1000),
            new TargetBudget(CostMetric.Macs, 2_000_000), new TargetBudget(CostMetric.WeightBytes, 4096)];
        foreach (var b in budgets)
            Assert.That(TaskBudget.From(b).ToPruningBudget(), Is.EqualTo(b));
        Assert.That(TaskBudget.From(new TargetBudget(CostMetric.Macs, 5)).Kind, Is.EqualTo(TaskBudgetKind.Macs));
    }
}
