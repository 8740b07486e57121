using System.Globalization;

namespace MetaVote;

/// <summary>An append-only CSV; a method's rows are appended at once and flushed, so an interrupted run loses at most
/// the method in progress.</summary>
sealed class ResultsFile
{
    private readonly string _path;
    private readonly HashSet<string> _done = new(StringComparer.Ordinal);

    public ResultsFile(string path, string header)
    {
        _path = path;
        if (!File.Exists(path)) File.WriteAllText(path, header + "\n");
        foreach (var line in File.ReadLines(path).Skip(1)) _done.Add(KeyOf(line));
    }

    private static string KeyOf(string line)
    {
        // model,seed,ratio,"task",method,...: the first five fields (the task is quoted and holds commas).
        int q1 = line.IndexOf('"'), q2 = line.IndexOf('"', q1 + 1);
        if (q1 < 0 || q2 < 0) return line;
        int end = line.IndexOf(',', q2 + 2);
        return end < 0 ? line : line[..end];
    }

    public bool Has(string model, int seed, double ratio, string task, string method) =>
        _done.Contains(string.Join(',', model, seed, ratio.ToString(CultureInfo.InvariantCulture), $"\"{task}\"", method));

    public void Append(IEnumerable<string> lines)
    {
        var list = lines.ToList();
        File.AppendAllLines(_path, list);
        foreach (var l in list) _done.Add(KeyOf(l));
    }
}

sealed record Options
{
    public string Command { get; init; } = "run";
    public string Out { get; init; } = "out/meta-vote";
    public string[] Models { get; init; } = ["onnx-models/fmnist-resnet.onnx", "onnx-models/fmnist-vit.onnx"];
    public int Pool { get; init; } = 40;
    public int New { get; init; } = 10;
    public int[] Seeds { get; init; } = [1, 2];
    public double[] Ratios { get; init; } = [0.5, 0.8];
    public int[] Budgets { get; init; } = [25, 50, 100, 200];
    public int Rounds { get; init; } = 3;
    public int StepsPerRound { get; init; } = 100;
    public int Batch { get; init; } = 32;
    public string FillCriterion { get; init; } = "taylor";
    public string[] Methods { get; init; } = ["k1", "k3", "k5", "random3", "l2", "taylor", "random", "iterative", "dense"];
    public int Recalibrate { get; init; } = 4;
    public int Threads { get; init; } = 1;
    public int TaskSeed { get; init; } = 11;

    public static Options Parse(string[] args)
    {
        var o = new Options();
        int i = 0;
        if (args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal)) { o = o with { Command = args[0] }; i = 1; }
        static int[] Ints(string s) => s.Split(',', ' ').Where(x => x.Length > 0).Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        for (; i < args.Length; i += 2)
        {
            if (i + 1 >= args.Length) throw new ArgumentException($"{args[i]} needs a value.");
            string v = args[i + 1];
            o = args[i] switch
            {
                "--out" => o with { Out = v },
                "--models" => o with { Models = v.Split(',', ' ').Where(x => x.Length > 0).ToArray() },
                "--pool" => o with { Pool = int.Parse(v, CultureInfo.InvariantCulture) },
                "--new" => o with { New = int.Parse(v, CultureInfo.InvariantCulture) },
                "--seeds" => o with { Seeds = Ints(v) },
                "--ratios" => o with { Ratios = v.Split(',', ' ').Where(x => x.Length > 0).Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray() },
                "--budgets" => o with { Budgets = Ints(v) },
                "--rounds" => o with { Rounds = int.Parse(v, CultureInfo.InvariantCulture) },
                "--steps-per-round" => o with { StepsPerRound = int.Parse(v, CultureInfo.InvariantCulture) },
                "--batch" => o with { Batch = int.Parse(v, CultureInfo.InvariantCulture) },
                "--fill-criterion" => o with { FillCriterion = v },
                "--methods" => o with { Methods = v.Split(',', ' ').Where(x => x.Length > 0).ToArray() },
                "--recalibrate-bn" => o with { Recalibrate = int.Parse(v, CultureInfo.InvariantCulture) },
                "--threads" => o with { Threads = int.Parse(v, CultureInfo.InvariantCulture) },
                "--task-seed" => o with { TaskSeed = int.Parse(v, CultureInfo.InvariantCulture) },
                _ => throw new ArgumentException($"Unknown option {args[i]}."),
            };
        }
        return o;
    }

    /// <summary>All 120 three-class subsets of the 10 classes in a seeded order: the first POOL fill the library, the next NEW are new tasks.</summary>
    public static int[][] AllTasks(int seed)
    {
        var all = new List<int[]>();
        for (int a = 0; a < 10; a++) for (int b = a + 1; b < 10; b++) for (int c = b + 1; c < 10; c++) all.Add([a, b, c]);
        var arr = all.ToArray();
        new Random(seed).Shuffle(arr);
        return arr;
    }

    public static string Describe(int[] classes) => string.Join(',', classes);
}
