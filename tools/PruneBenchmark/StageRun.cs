using System.Diagnostics;
using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Pruning.Importance;

namespace PruneBenchmark;

/// <summary>One in-process run load → prune (L2, 50 % per group) → save, split into stages at the pruner's progress
/// reports: per stage wall time, managed bytes allocated, peak and final resident memory.</summary>
internal sealed class StageRun
{
    /// <summary>Stage names in order. "analyse" includes the cost count before pruning, "count" the one after.</summary>
    public static readonly string[] Stages = ["load", "analyse", "score", "plan", "surgery", "count", "save"];

    public readonly record struct Stage(double Ms, double CpuMs, double JitMs, int JitMethods, double AllocatedMb, double PeakMb, double EndMb);

    public Dictionary<string, Stage> ByStage { get; } = new(StringComparer.Ordinal);
    public double TotalMs => ByStage.Values.Sum(s => s.Ms);
    public double PeakMb => ByStage.Values.Max(s => s.PeakMb);
    public PruneReport Report { get; private set; } = null!;

    private readonly Stopwatch _clock = new();
    private long _allocated, _jitMethods;
    private TimeSpan _cpu, _jit;

    public static StageRun Measure(string path, string outPath, CostOptions cost)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var run = new StageRun();
        run.Start();
        var model = OnnxModel.Load(path);
        run.Lap("load");
        var progress = new StageProgress(run);
        run.Report = Pruner.Default.PruneAsync(model, new PruneOptions
        {
            Criterion = new MagnitudeCriterion(2),
            Budget = new UniformRatioBudget(0.5),
            Cost = cost,
        }, progress).GetAwaiter().GetResult();
        run.Lap("count");
        model.Save(outPath);
        run.Lap("save");
        return run;
    }

    /// <summary>Writes the stages, one line each, for <see cref="Parse"/>.</summary>
    public void Print()
    {
        foreach (var (name, s) in ByStage)
            Console.WriteLine(FormattableString.Invariant($"{name} {s.Ms} {s.CpuMs} {s.JitMs} {s.JitMethods} {s.AllocatedMb} {s.PeakMb} {s.EndMb}"));
    }

    /// <summary>Reads what <see cref="Print"/> wrote.</summary>
    public static StageRun Parse(string text)
    {
        var run = new StageRun();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var f = line.Split(' ');
            double D(int i) => double.Parse(f[i], System.Globalization.CultureInfo.InvariantCulture);
            run.ByStage[f[0]] = new Stage(D(1), D(2), D(3), (int)D(4), D(5), D(6), D(7));
        }
        return run;
    }

    /// <summary>Prints the per-stage table (medians over <paramref name="runs"/>).</summary>
    public static void PrintDetail(IReadOnlyList<StageRun> runs)
    {
        var rows = Stages.Select(s => new[]
        {
            s, $"{Median(runs, s, x => x.Ms):F0}", $"{Median(runs, s, x => x.CpuMs):F0}", $"{Median(runs, s, x => x.JitMs):F0}",
            $"{Median(runs, s, x => x.JitMethods):F0}", $"{Median(runs, s, x => x.AllocatedMb):F0}", $"{Median(runs, s, x => x.PeakMb):F0}",
            $"{Median(runs, s, x => x.EndMb):F0}",
        }).ToList();
        rows.Add(["total", $"{Stats.Median(runs.Select(r => r.TotalMs)):F0}", $"{Stats.Median(runs.Select(r => r.ByStage.Values.Sum(x => x.CpuMs))):F0}",
            $"{Stats.Median(runs.Select(r => r.ByStage.Values.Sum(x => x.JitMs))):F0}", $"{Stats.Median(runs.Select(r => (double)r.ByStage.Values.Sum(x => x.JitMethods))):F0}",
            $"{Stats.Median(runs.Select(r => r.ByStage.Values.Sum(x => x.AllocatedMb))):F0}", $"{Stats.Median(runs.Select(r => r.PeakMb)):F0}", ""]);
        Stats.PrintTable(["stage", "ms", "cpu ms", "jit ms", "jit methods", "allocated MB", "peak RSS MB", "RSS MB after"], rows);
    }

    public static double Median(IEnumerable<StageRun> runs, string stage, Func<Stage, double> select) =>
        Stats.Median(runs.Select(r => r.ByStage.TryGetValue(stage, out var s) ? select(s) : 0));

    private void Start()
    {
        PeakMemory.Reset();
        _allocated = GC.GetTotalAllocatedBytes(precise: true);
        _cpu = Process.GetCurrentProcess().TotalProcessorTime;
        _jit = System.Runtime.JitInfo.GetCompilationTime();
        _jitMethods = System.Runtime.JitInfo.GetCompiledMethodCount();
        _clock.Restart();
    }

    private void Lap(string stage)
    {
        double ms = _clock.Elapsed.TotalMilliseconds;
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        ByStage[stage] = new Stage(ms, (Process.GetCurrentProcess().TotalProcessorTime - _cpu).TotalMilliseconds,
            (System.Runtime.JitInfo.GetCompilationTime() - _jit).TotalMilliseconds, (int)(System.Runtime.JitInfo.GetCompiledMethodCount() - _jitMethods),
            (allocated - _allocated) / 1048576.0, PeakMemory.PeakMb(), Environment.WorkingSet / 1048576.0);
        Start();
    }

    // Each new pruner stage closes the previous one (the Analyze stage opens right after load).
    private sealed class StageProgress(StageRun run) : IProgress<PruneProgress>
    {
        private PruneStage? _current;

        public void Report(PruneProgress value)
        {
            if (value.Stage == _current) return;
            if (_current is { } previous)
                run.Lap(previous switch
                {
                    PruneStage.Analyze => "analyse",
                    PruneStage.Score => "score",
                    PruneStage.Plan => "plan",
                    PruneStage.Surgery => "surgery",
                    _ => previous.ToString().ToLowerInvariant(),
                });
            _current = value.Stage;
        }
    }
}
