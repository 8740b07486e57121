// TaskLibraryStress: one writer of task-library entries, for the concurrent-writers test and by hand.
//
//   dotnet TaskLibraryStress.dll LIB --writer NAME [--count N] [--groups G] [--units U] [--hang-before-commit]
//
// Writes N synthetic entries (G groups of U units each, random masks and embeddings seeded by NAME) into LIB through
// TaskLibrary.Add, printing "ENTRY <id> <task>" after each one. --hang-before-commit writes the first entry's
// temporary file, prints "TEMP <path>" and then sleeps forever before the rename: the test kills the process there,
// the worst moment for a writer to die. Exit codes: 0 done, 2 bad arguments.
using System.Globalization;
using OnnxPrune.Tasks;

string? lib = null, writer = null;
int count = 10, groups = 16, units = 64;
bool hang = false;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--writer": writer = args[++i]; break;
        case "--count": count = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--groups": groups = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--units": units = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--hang-before-commit": hang = true; break;
        default:
            if (lib is null && !args[i].StartsWith("--", StringComparison.Ordinal)) { lib = args[i]; break; }
            Console.Error.WriteLine($"unknown argument {args[i]}");
            return 2;
    }
}
if (lib is null || writer is null)
{
    Console.Error.WriteLine("usage: TaskLibraryStress LIB --writer NAME [--count N] [--groups G] [--units U] [--hang-before-commit]");
    return 2;
}

if (hang)
{
    TaskLibrary.BeforeCommit = temp =>
    {
        if (!temp.Contains(Path.DirectorySeparatorChar + TaskLibrary.EntriesFolderName + Path.DirectorySeparatorChar, StringComparison.Ordinal)) return;
        Console.WriteLine($"TEMP {temp}");
        Console.Out.Flush();
        Thread.Sleep(Timeout.Infinite);
    };
}

var library = TaskLibrary.OpenOrCreate(lib);
var random = new Random(StableSeed(writer));
for (int n = 0; n < count; n++)
{
    var classes = Enumerable.Range(0, 10).OrderBy(_ => random.Next()).Take(3).ToArray();
    var masks = new Dictionary<string, GroupMask>(StringComparer.Ordinal);
    for (int g = 0; g < groups; g++)
    {
        var kept = Enumerable.Range(0, units).Where(_ => random.NextDouble() < 0.5).Select(u => (long)u).ToList();
        if (kept.Count == 0) kept.Add(0);
        masks[$"group/{g}"] = GroupMask.Create(units, kept);
    }
    var entry = new TaskEntry
    {
        Task = new TaskDescriptor { DataSet = "fashion-mnist", Classes = classes, Label = $"{writer}-{n}" },
        BaseFingerprint = "stress-base-0000",
        Embeddings = new Dictionary<string, float[]>
        {
            [TaskEmbeddingKinds.Features] = Enumerable.Range(0, 3 * units).Select(_ => (float)random.NextDouble()).ToArray(),
            [TaskEmbeddingKinds.Fisher] = Enumerable.Range(0, groups * units).Select(_ => (float)random.NextDouble()).ToArray(),
        },
        Masks = masks,
        Budget = new TaskBudget { Kind = TaskBudgetKind.Ratio, Value = 0.5 },
        Accuracy = random.NextDouble(),
        Steps = 600,
        CpuSeconds = 12.5,
        Properties = new Dictionary<string, string> { ["writer"] = writer, ["pid"] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture) },
    };
    var added = library.Add(entry);
    Console.WriteLine($"ENTRY {added.Id} {entry.Task.Label}");
    Console.Out.Flush();
}
return 0;

static int StableSeed(string s)
{
    unchecked
    {
        int h = 17;
        foreach (var c in s) h = h * 31 + c;
        return h;
    }
}
