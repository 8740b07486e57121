using System.Globalization;

namespace OnnxPrune.Export;

/// <summary>How activation ranges are chosen from calibration data.</summary>
public enum CalibrationMethod
{
    /// <summary>The smallest and largest value seen.</summary>
    MinMax,
    /// <summary>The <see cref="CalibrationCollector.Percentile"/>-th and (100 − it)-th percentiles of the values seen
    /// (clips rare outliers, which buys resolution for the bulk of the values).</summary>
    Percentile,
}

/// <summary>A float range <c>[Min, Max]</c> of one activation.</summary>
public readonly record struct ActivationRange(float Min, float Max)
{
    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"[{Min:G6}, {Max:G6}]");
}

/// <summary>Activation ranges by value name, the input of <see cref="QuantizeStaticPass"/>.</summary>
public sealed class CalibrationTable
{
    private readonly Dictionary<string, ActivationRange> _ranges;

    /// <summary>Creates a table from ranges by value name.</summary>
    public CalibrationTable(IReadOnlyDictionary<string, ActivationRange> ranges, CalibrationMethod method, int samples)
    {
        ArgumentNullException.ThrowIfNull(ranges);
        _ranges = new Dictionary<string, ActivationRange>(ranges, StringComparer.Ordinal);
        Method = method;
        Samples = samples;
    }

    /// <summary>The method the ranges come from.</summary>
    public CalibrationMethod Method { get; }

    /// <summary>Calibration inputs (images) the ranges were measured on.</summary>
    public int Samples { get; }

    /// <summary>Ranges by value name.</summary>
    public IReadOnlyDictionary<string, ActivationRange> Ranges => _ranges;

    /// <summary>The range of a value, or null.</summary>
    public ActivationRange? Find(string name) => _ranges.TryGetValue(name, out var r) ? r : null;
}

/// <summary>
/// Accumulates activation values batch by batch and turns them into a <see cref="CalibrationTable"/>. Keeps the exact
/// minimum and maximum and, for percentiles, an evenly strided sample of at most <see cref="SamplesPerBatch"/> values per
/// activation and batch.
/// </summary>
public sealed class CalibrationCollector
{
    private readonly Dictionary<string, (float Min, float Max, List<float[]> Samples)> _stats = new(StringComparer.Ordinal);

    /// <summary>Creates a collector.</summary>
    /// <param name="percentile">Upper percentile for <see cref="CalibrationMethod.Percentile"/> (e.g. 99.99; the lower one is
    /// 100 − it). Must be in (50, 100].</param>
    /// <param name="samplesPerBatch">Values kept per activation and batch for percentiles.</param>
    public CalibrationCollector(double percentile = 99.99, int samplesPerBatch = 1 << 16)
    {
        if (!(percentile > 50 && percentile <= 100)) throw new ArgumentOutOfRangeException(nameof(percentile), percentile, "The percentile must be in (50, 100].");
        ArgumentOutOfRangeException.ThrowIfLessThan(samplesPerBatch, 1);
        Percentile = percentile;
        SamplesPerBatch = samplesPerBatch;
    }

    /// <summary>Upper percentile used by <see cref="CalibrationMethod.Percentile"/>.</summary>
    public double Percentile { get; }

    /// <summary>Values kept per activation and batch.</summary>
    public int SamplesPerBatch { get; }

    /// <summary>Calibration inputs seen so far (counted by the caller through <see cref="AddBatchCount"/>).</summary>
    public int Count { get; private set; }

    /// <summary>Counts <paramref name="images"/> more calibration inputs.</summary>
    public void AddBatchCount(int images) => Count += images;

    /// <summary>Adds the values of one activation from one batch. NaNs are ignored.</summary>
    public void Add(string name, ReadOnlySpan<float> values)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (values.IsEmpty) return;
        var (min, max, samples) = _stats.TryGetValue(name, out var s) ? s : (float.PositiveInfinity, float.NegativeInfinity, new List<float[]>());
        foreach (var v in values)
        {
            if (v < min) min = v;
            if (v > max) max = v;
        }
        int stride = Math.Max(1, values.Length / SamplesPerBatch);
        var sample = new float[(values.Length + stride - 1) / stride];
        for (int i = 0, j = 0; i < values.Length; i += stride, j++) sample[j] = values[i];
        samples.Add(sample);
        _stats[name] = (min, max, samples);
    }

    /// <summary>The ranges by <paramref name="method"/>.</summary>
    public CalibrationTable ToTable(CalibrationMethod method)
    {
        var ranges = new Dictionary<string, ActivationRange>(StringComparer.Ordinal);
        foreach (var (name, (min, max, samples)) in _stats)
        {
            if (method == CalibrationMethod.MinMax || Percentile >= 100) { ranges[name] = new(min, max); continue; }
            var all = samples.SelectMany(s => s).Where(v => !float.IsNaN(v)).Select(v => (double)v).ToArray();
            Array.Sort(all);
            ranges[name] = new((float)At(all, 100 - Percentile), (float)At(all, Percentile));
        }
        return new CalibrationTable(ranges, method, Count);
    }

    // The p-th percentile of sorted values, interpolated between closest ranks.
    private static double At(double[] sorted, double p)
    {
        if (sorted.Length == 0) return 0;
        double rank = p / 100 * (sorted.Length - 1);
        int lo = (int)Math.Floor(rank), hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }
}
