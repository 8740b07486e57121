using System.Diagnostics;

namespace PruneBenchmark;

/// <summary>Whole processes on one model, in rounds: python onnx's bare load + save of the file, and
/// <c>onnxprune prune --ratio 0.5</c> as each given CLI build. The order rotates every round so that a load spike on the
/// shared machine or a cold page cache hits every side alike; before each run, sync(1) writes the previous run's output
/// back (untimed).</summary>
internal static class ProcessComparison
{
    public static void Run(string model, string workDir, IReadOnlyList<(string Name, string[] Command)> clis, string python, int rounds)
    {
        var sides = new List<(string Name, string[] Argv, string Output)>
        {
            ("python load+save", [python, "-c", "import sys, onnx; onnx.save(onnx.load(sys.argv[1]), sys.argv[2])", model, Path.Combine(workDir, "python-resaved.onnx")],
                Path.Combine(workDir, "python-resaved.onnx")),
        };
        for (int i = 0; i < clis.Count; i++)
        {
            var output = Path.Combine(workDir, $"cli{i}-pruned.onnx");
            sides.Add(($"prune, {clis[i].Name}", [.. clis[i].Command, "prune", model, output, "--ratio", "0.5"], output));
        }
        var runs = sides.Select(_ => new List<ChildProcess.Run>()).ToList();
        var loadBefore = LoadAverage();
        for (int r = 0; r < rounds; r++)
        {
            for (int k = 0; k < sides.Count; k++)
            {
                int s = (k + r) % sides.Count;
                File.Delete(sides[s].Output);
                // The previous process's output (python's 127 MB, not synced by it) goes to disk now, untimed, instead of
                // being written back during the next process.
                Sync();
                var run = ChildProcess.Measure(python, sides[s].Argv);
                if (run.ExitCode != 0) throw new InvalidOperationException($"{sides[s].Name} exited with {run.ExitCode}: {string.Join(" ", sides[s].Argv)}");
                runs[s].Add(run);
            }
        }
        Console.WriteLine($"Whole processes on {Path.GetFileName(model)} ({new FileInfo(model).Length / 1e6:F0} MB), {rounds} rounds, order rotating each round;");
        Console.WriteLine($"load average (1/5/15 min) {loadBefore} before, {LoadAverage()} after, on {Environment.ProcessorCount} cores:");
        foreach (var side in sides) Console.WriteLine($"  {side.Name}: {string.Join(" ", side.Argv.Select(a => a.Contains(' ') ? $"\"{a}\"" : a))}");
        var rows = new List<string[]>();
        var baseline = runs[0];
        for (int s = 0; s < sides.Count; s++)
        {
            var mine = runs[s];
            rows.Add([sides[s].Name, $"{Stats.Median(mine.Select(x => x.Seconds)):F2}", $"{mine.Min(x => x.Seconds):F2}", $"{mine.Max(x => x.Seconds):F2}",
                $"{Stats.Median(mine.Select(x => x.CpuSeconds)):F2}", $"{Stats.Median(mine.Zip(baseline, (a, b) => a.Seconds / b.Seconds)):F2}",
                $"{Stats.Median(mine.Select(x => x.PeakMb)):F0}", $"{Stats.Median(mine.Zip(baseline, (a, b) => a.PeakMb / b.PeakMb)):F2}"]);
        }
        Stats.PrintTable(["process", "median s", "min s", "max s", "cpu s", "time vs python", "peak MB", "peak vs python"], rows);
        Console.WriteLine("Wall time from spawn to exit; cpu = user + system time; peak = the process's own maximum resident set (wait4 rusage).");
        Console.WriteLine("'vs python' = median over rounds of the ratio to python's run in the same round. Per round:");
        for (int s = 1; s < sides.Count; s++)
            Console.WriteLine($"  {sides[s].Name}: {string.Join(" ", runs[s].Zip(baseline, (a, b) => $"{a.Seconds / b.Seconds:F2}"))}");
    }

    private static void Sync()
    {
        try
        {
            using var sync = Process.Start(new ProcessStartInfo("sync") { UseShellExecute = false });
            sync?.WaitForExit();
        }
        catch (System.ComponentModel.Win32Exception) { } // no sync(1): runs without it
    }

    // The first three fields of /proc/loadavg, or "n/a".
    private static string LoadAverage()
    {
        try { return string.Join("/", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "n/a"; }
        catch (UnauthorizedAccessException) { return "n/a"; }
    }
}
