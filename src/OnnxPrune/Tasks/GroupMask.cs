namespace OnnxPrune.Tasks;

/// <summary>The keep-mask one task's pruning chose for one pruning group, stored by the group's stable key: the group
/// size and the kept unit indices (ascending, distinct, within [0, size)).</summary>
/// <remarks>Unlike <c>Pruning.KeepMask</c> it holds no reference to an analysis: entries outlive the process that
/// analysed the model, and are matched to groups by key.</remarks>
public sealed record GroupMask
{
    /// <summary>Number of units of the group in the base model.</summary>
    public required long Size { get; init; }

    /// <summary>Kept unit indices, ascending and distinct.</summary>
    public required IReadOnlyList<long> Kept { get; init; }

    /// <summary>Creates a mask, validating it.</summary>
    /// <exception cref="ArgumentException">Size below 1, or indices out of range, unsorted or repeated.</exception>
    public static GroupMask Create(long size, IEnumerable<long> kept)
    {
        ArgumentNullException.ThrowIfNull(kept);
        var mask = new GroupMask { Size = size, Kept = kept.ToArray() };
        if (mask.Problem() is { } p) throw new ArgumentException(p, nameof(kept));
        return mask;
    }

    /// <summary>Keeps every unit.</summary>
    public static GroupMask All(long size) => Create(size, LongRange(size));

    /// <summary>1 for kept units, 0 for removed ones (length <see cref="Size"/>).</summary>
    public float[] ToIndicator()
    {
        var m = new float[checked((int)Size)];
        foreach (var k in Kept) m[k] = 1f;
        return m;
    }

    /// <summary>Fraction of units kept.</summary>
    public double KeptFraction => Size == 0 ? 0 : (double)Kept.Count / Size;

    /// <summary>Null when valid, else the reason.</summary>
    internal string? Problem()
    {
        if (Size < 1) return $"group size {Size} is below 1";
        if (Kept is null) return "kept is missing";
        for (int i = 0; i < Kept.Count; i++)
        {
            if (Kept[i] < 0 || Kept[i] >= Size) return $"kept index {Kept[i]} is outside [0, {Size})";
            if (i > 0 && Kept[i] <= Kept[i - 1]) return "kept indices are not ascending and distinct";
        }
        return null;
    }

    private static IEnumerable<long> LongRange(long n)
    {
        for (long i = 0; i < n; i++) yield return i;
    }
}
