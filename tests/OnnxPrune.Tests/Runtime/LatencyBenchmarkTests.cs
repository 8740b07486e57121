using NUnit.Framework;
using OnnxPrune.Runtime;

namespace OnnxPrune.Tests.Runtime;

public class LatencyBenchmarkTests
{
    [Test]
    public void Percentiles_interpolate_between_ranks()
    {
        var stats = LatencyBenchmark.FromSamples([5, 1, 4, 2, 3, 10, 6, 8, 7, 9, 11]);
        Assert.That(stats.MedianMs, Is.EqualTo(6));
        Assert.That(stats.P10Ms, Is.EqualTo(2));
        Assert.That(stats.P90Ms, Is.EqualTo(10));
        Assert.That(stats.MinMs, Is.EqualTo(1));
        Assert.That(stats.MaxMs, Is.EqualTo(11));
        Assert.That(LatencyBenchmark.Percentile([1.0, 2.0], 50), Is.EqualTo(1.5));
    }

    [Test]
    public void Measure_counts_runs_and_skips_warmup()
    {
        int calls = 0;
        var stats = LatencyBenchmark.Measure(() => { calls++; Thread.Sleep(1); }, warmup: 3, runs: 5);
        Assert.That(calls, Is.EqualTo(8));
        Assert.That(stats.Runs, Is.EqualTo(5));
        Assert.That(stats.MinMs, Is.GreaterThanOrEqualTo(0.9));
        Assert.That(stats.ThroughputPerSecond, Is.GreaterThan(0).And.LessThan(1100));
    }
}
