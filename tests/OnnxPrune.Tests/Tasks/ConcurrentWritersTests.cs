using System.Diagnostics;
using OnnxPrune.Tasks;

namespace OnnxPrune.Tests.Tasks;

/// <summary>Many writer processes into one library at once (tools/TaskLibraryStress, as <c>library fill</c> shards will
/// write): every entry is there, complete and loadable; killed writers leave no visible partial entry.</summary>
public class ConcurrentWritersTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = TestPaths.TempDir();

    [TearDown]
    public void TearDown() { try { Directory.Delete(_dir, true); } catch (IOException) { } }

    private sealed class Writer : IDisposable
    {
        private readonly Process _process;
        private readonly List<string> _lines = new();
        private readonly Task<string> _stderr;

        public Writer(string library, string name, params string[] extra)
        {
            var dll = Path.Combine(AppContext.BaseDirectory, "TaskLibraryStress.dll");
            Assert.That(File.Exists(dll), Is.True, $"{dll} missing from the test output");
            var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
            if (string.IsNullOrEmpty(host) || !File.Exists(host)) host = "dotnet";
            var psi = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { dll, library, "--writer", name }.Concat(extra)) psi.ArgumentList.Add(a);
            _process = Process.Start(psi) ?? throw new InvalidOperationException("could not start TaskLibraryStress");
            _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_lines) _lines.Add(e.Data); };
            _process.BeginOutputReadLine();
            _stderr = _process.StandardError.ReadToEndAsync();
            Name = name;
        }

        public string Name { get; }

        public bool HasExited => _process.HasExited;

        public string[] Lines { get { lock (_lines) return _lines.ToArray(); } }

        public string[] Ids => Lines.Where(l => l.StartsWith("ENTRY ", StringComparison.Ordinal)).Select(l => l.Split(' ')[1]).ToArray();

        public int WaitForExit(TimeSpan timeout)
        {
            if (!_process.WaitForExit(timeout)) { Kill(); Assert.Fail($"writer {Name} did not finish in {timeout}"); }
            _process.WaitForExit(); // drains the output events
            return _process.ExitCode;
        }

        public string StdErr => _stderr.IsCompleted ? _stderr.Result : "";

        public void Kill()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        public void Dispose()
        {
            Kill();
            _process.Dispose();
        }
    }

    [Test]
    public void FourWritersAtOnceAndTwoKilledOnesLeaveEveryEntryCompleteAndNoPartialOne()
    {
        var lib = Path.Combine(_dir, "library");
        const int perWriter = 40;
        var timeout = TimeSpan.FromMinutes(3);

        // One writer hangs after writing its first temporary (before the rename) and is killed there; another writes
        // large entries and is killed at whatever point it has reached; four run to completion, all at once.
        using var hung = new Writer(lib, "hung", "--count", "5", "--hang-before-commit");
        using var random = new Writer(lib, "killed", "--count", "1000", "--groups", "64", "--units", "512");
        var writers = Enumerable.Range(0, 4).Select(i => new Writer(lib, $"w{i}", "--count", perWriter.ToString(), "--groups", "32", "--units", "128")).ToList();
        try
        {
            // While they run, a reader lists strictly over and over (it must never meet a partial or corrupt entry),
            // and the two writers to kill are killed as soon as they reach their moment.
            string? temp = null;
            bool randomKilled = false;
            int listings = 0, seenMost = 0;
            var manifest = Path.Combine(lib, TaskLibrary.ManifestFileName);
            var clock = Stopwatch.StartNew();
            while ((writers.Any(w => !w.HasExited) || temp is null || !randomKilled) && clock.Elapsed < timeout)
            {
                if (temp is null && hung.Lines.FirstOrDefault(l => l.StartsWith("TEMP ", StringComparison.Ordinal)) is { } tempLine)
                {
                    temp = tempLine["TEMP ".Length..];
                    Assert.That(File.Exists(temp), Is.True, "the hung writer's temporary exists while it hangs");
                    hung.Kill();
                }
                if (!randomKilled && random.Ids.Length > 0)
                {
                    Thread.Sleep(37);
                    random.Kill();
                    randomKilled = true;
                }
                if (File.Exists(manifest))
                {
                    seenMost = Math.Max(seenMost, TaskLibrary.Open(lib).List(new TaskListingOptions { Strict = true }).Entries.Count);
                    listings++;
                }
                Thread.Sleep(5);
            }
            Assert.That(temp, Is.Not.Null, $"the hung writer never reached its rename: {hung.StdErr}");
            Assert.That(randomKilled, Is.True, $"the large-entry writer wrote nothing: {random.StdErr}");
            TestContext.Progress.WriteLine($"{listings} strict listings while the writers ran (up to {seenMost} entries seen)");

            foreach (var w in writers)
                Assert.That(w.WaitForExit(timeout), Is.Zero, $"writer {w.Name}: {w.StdErr}");

            var library = TaskLibrary.Open(lib);
            var listing = library.List(new TaskListingOptions { Strict = true }); // throws on any partial or corrupt file
            Assert.That(listing.Skipped, Is.Empty);

            foreach (var w in writers)
            {
                var ids = w.Ids;
                Assert.That(ids, Has.Length.EqualTo(perWriter), $"writer {w.Name} reported every entry");
                var mine = listing.Entries.Where(e => e.Properties["writer"] == w.Name).ToList();
                Assert.That(mine.Select(e => e.Id), Is.EquivalentTo(ids), $"writer {w.Name}: every entry is in the library, once");
                Assert.That(mine.Select(e => e.Task.Label), Is.EquivalentTo(Enumerable.Range(0, perWriter).Select(n => $"{w.Name}-{n}")));
                foreach (var e in mine)
                {
                    Assert.That(e.Masks, Has.Count.EqualTo(32), "complete");
                    Assert.That(library.Load(e.Id), Is.EqualTo(e).Using<TaskEntry>((x, y) => x.Id == y.Id && x.Masks.Count == y.Masks.Count), "loadable by id");
                }
            }
            // The writers did overlap in time (else this test would prove little).
            var spans = writers.Select(w => listing.Entries.Where(e => e.Properties["writer"] == w.Name).Select(e => e.CreatedUtc).ToList())
                .Select(t => (Start: t.Min(), End: t.Max())).ToList();
            int overlapping = spans.SelectMany((x, i) => spans.Skip(i + 1).Where(y => x.Start < y.End && y.Start < x.End)).Count();
            TestContext.Progress.WriteLine($"writer spans: {string.Join(", ", spans.Select(x => $"{x.Start:HH:mm:ss.fff}–{x.End:HH:mm:ss.fff}"))}; {overlapping} overlapping pairs");
            Assert.That(overlapping, Is.GreaterThanOrEqualTo(1), "at least two writers wrote at the same time");
            Assert.That(listing.Entries.Where(e => e.Properties["writer"] == "hung"), Is.Empty, "the writer killed before its rename left no entry");
            var killedIds = random.Ids;
            var killed = listing.Entries.Where(e => e.Properties["writer"] == "killed").ToList();
            Assert.That(killed.Select(e => e.Id), Is.SupersetOf(killedIds), "what the killed writer reported is there");
            Assert.That(killed.Count, Is.LessThanOrEqualTo(killedIds.Length + 1), "at most the entry it was reporting when killed besides");
            Assert.That(killed, Has.All.Matches<TaskEntry>(e => e.Masks.Count == 64 && e.Masks.Values.All(m => m.Size == 512)), "the killed writer's entries are complete");
            Assert.That(listing.Entries.Count, Is.EqualTo(4 * perWriter + killed.Count));

            // The hung writer's temporary is still there (nobody else may delete a live writer's file) but invisible;
            // cleaning removes it and the entries stay.
            Assert.That(File.Exists(temp), Is.True);
            Assert.That(listing.PendingTemporaries, Is.GreaterThanOrEqualTo(1));
            Assert.That(library.CleanStaleTemporaries(TimeSpan.Zero), Is.GreaterThanOrEqualTo(1));
            Assert.That(File.Exists(temp), Is.False);
            var after = library.List(new TaskListingOptions { Strict = true });
            Assert.That(after.PendingTemporaries, Is.Zero);
            Assert.That(after.Entries.Select(e => e.Id), Is.EqualTo(listing.Entries.Select(e => e.Id)));
        }
        finally
        {
            foreach (var w in writers) w.Dispose();
        }
    }
}
