using System.Diagnostics;

namespace OnnxPrune.Runtime;

/// <summary>Latency statistics over timed runs, in milliseconds.</summary>
/// <param name="Runs">Number of timed runs.</param>
/// <param name="MedianMs">Median latency.</param>
/// <param name="P10Ms">10th percentile.</param>
/// <param name="P90Ms">90th percentile.</param>
/// <param name="MeanMs">Mean latency.</param>
/// <param name="MinMs">Fastest run.</param>
/// <param name="MaxMs">Slowest run.</param>
/// <param name="TotalSeconds">Wall time of all timed runs together.</param>
public sealed record LatencyStats(int Runs, double MedianMs, double P10Ms, double P90Ms, double MeanMs, double MinMs, double MaxMs, double TotalSeconds)
{
    /// <summary>Runs per second over the whole timed period.</summary>
    public double ThroughputPerSecond => TotalSeconds > 0 ? Runs / TotalSeconds : 0;
}

/// <summary>Times repeated runs of an action: warm-up runs first (not timed), then each timed run separately.</summary>
public static class LatencyBenchmark
{
    /// <summary>Runs <paramref name="run"/> <paramref name="warmup"/> times untimed, then <paramref name="runs"/> times timed.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative warm-up or fewer than one run.</exception>
    public static LatencyStats Measure(Action run, int warmup, int runs)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentOutOfRangeException.ThrowIfNegative(warmup);
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        for (int i = 0; i < warmup; i++) run();
        var samples = new double[runs];
        var total = Stopwatch.StartNew();
        for (int i = 0; i < runs; i++)
        {
            long start = Stopwatch.GetTimestamp();
            run();
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        total.Stop();
        return FromSamples(samples, total.Elapsed.TotalSeconds);
    }

    /// <summary>Statistics of latency samples (ms); <paramref name="totalSeconds"/> defaults to their sum.</summary>
    /// <exception cref="ArgumentException">No samples.</exception>
    public static LatencyStats FromSamples(IReadOnlyList<double> samplesMs, double? totalSeconds = null)
    {
        ArgumentNullException.ThrowIfNull(samplesMs);
        if (samplesMs.Count == 0) throw new ArgumentException("No samples.", nameof(samplesMs));
        var sorted = samplesMs.ToArray();
        Array.Sort(sorted);
        return new LatencyStats(sorted.Length, Percentile(sorted, 50), Percentile(sorted, 10), Percentile(sorted, 90),
            sorted.Average(), sorted[0], sorted[^1], totalSeconds ?? sorted.Sum() / 1000.0);
    }

    /// <summary>The <paramref name="percent"/>-th percentile of sorted values, linearly interpolated between closest ranks.</summary>
    /// <remarks>Index = p/100·(n−1); NaN values sort first and are not treated specially.</remarks>
    public static double Percentile(ReadOnlySpan<double> sorted, double percent)
    {
        if (sorted.Length == 0) throw new ArgumentException("No values.", nameof(sorted));
        ArgumentOutOfRangeException.ThrowIfLessThan(percent, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percent, 100);
        double rank = percent / 100 * (sorted.Length - 1);
        int lo = (int)Math.Floor(rank), hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }
}
