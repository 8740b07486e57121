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

    public readonly record struct Stage(double Ms, double AllocatedMb, double PeakMb, double EndMb);

    public Dictionary<string, Stage> ByStage { get; } = new(StringComparer.Ordinal);
    public double TotalMs => ByStage.Values.Sum(s => s.Ms);
    public double PeakMb => ByStage.Values.Max(s => s.PeakMb);
    public PruneReport Report { get; private set; } = null!;

    private readonly Stopwatch _clock = new();
    private long _allocated;

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

    public static double Median(IEnumerable<StageRun> runs, string stage, Func<Stage, double> select) =>
        Stats.Median(runs.Select(r => r.ByStage.TryGetValue(stage, out var s) ? select(s) : 0));

    private void Start()
    {
        PeakMemory.Reset();
        _allocated = GC.GetTotalAllocatedBytes(precise: true);
        _clock.Restart();
    }

    private void Lap(string stage)
    {
        double ms = _clock.Elapsed.TotalMilliseconds;
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        ByStage[stage] = new Stage(ms, (allocated - _allocated) / 1048576.0, PeakMemory.PeakMb(), Environment.WorkingSet / 1048576.0);
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
