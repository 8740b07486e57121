namespace PruneBenchmark;

/// <summary>The whole <c>onnxprune prune</c> process against python onnx's bare load + save of the same file, in
/// alternating rounds (odd rounds python first, even rounds prune first), so that a load spike on the shared machine
/// or a cold page cache hits both sides alike.</summary>
internal static class ProcessComparison
{
    public static void Run(string model, string workDir, string[] cli, string python, int rounds)
    {
        var pythonOut = Path.Combine(workDir, "python-resaved.onnx");
        var pruneOut = Path.Combine(workDir, "cli-pruned.onnx");
        string[] pythonArgv = [python, "-c", "import sys, onnx; onnx.save(onnx.load(sys.argv[1]), sys.argv[2])", model, pythonOut];
        string[] pruneArgv = [.. cli, "prune", model, pruneOut, "--ratio", "0.5"];
        var py = new List<ChildProcess.Run>();
        var pr = new List<ChildProcess.Run>();
        var rows = new List<string[]>();
        for (int r = 0; r < rounds; r++)
        {
            ChildProcess.Run p = default, q = default;
            foreach (var first in r % 2 == 0 ? new[] { true, false } : [false, true])
            {
                File.Delete(first ? pythonOut : pruneOut);
                var run = ChildProcess.Measure(first ? pythonArgv : pruneArgv);
                if (run.ExitCode != 0)
                    throw new InvalidOperationException($"{(first ? "python" : "onnxprune prune")} exited with {run.ExitCode}: {string.Join(" ", first ? pythonArgv : pruneArgv)}");
                if (first) p = run; else q = run;
            }
            py.Add(p);
            pr.Add(q);
            rows.Add([$"{r + 1}", r % 2 == 0 ? "python" : "prune", $"{p.Seconds:F2}", $"{q.Seconds:F2}", $"{q.Seconds / p.Seconds:F2}", $"{p.PeakMb:F0}", $"{q.PeakMb:F0}", $"{q.PeakMb / p.PeakMb:F2}"]);
        }
        rows.Add(["median", "", $"{Stats.Median(py.Select(x => x.Seconds)):F2}", $"{Stats.Median(pr.Select(x => x.Seconds)):F2}",
            $"{Stats.Median(py.Zip(pr, (a, b) => b.Seconds / a.Seconds)):F2}", $"{Stats.Median(py.Select(x => x.PeakMb)):F0}",
            $"{Stats.Median(pr.Select(x => x.PeakMb)):F0}", $"{Stats.Median(py.Zip(pr, (a, b) => b.PeakMb / a.PeakMb)):F2}"]);
        Console.WriteLine($"Whole processes on {Path.GetFileName(model)} ({new FileInfo(model).Length / 1e6:F0} MB), {rounds} alternating rounds:");
        Console.WriteLine($"  python: {string.Join(" ", pythonArgv.Select(a => a.Contains(' ') ? $"\"{a}\"" : a))}");
        Console.WriteLine($"  prune:  {string.Join(" ", pruneArgv)}");
        Stats.PrintTable(["round", "first", "python s", "prune s", "prune/python", "python peak MB", "prune peak MB", "peak ratio"], rows);
        Console.WriteLine("Wall time from spawn to exit; peak = the child's own maximum resident set (wait4 rusage).");
    }
}
