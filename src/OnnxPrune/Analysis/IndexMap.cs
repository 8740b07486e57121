namespace OnnxPrune.Analysis;

/// <summary>
/// Maps a group's root units (e.g. output channel c, attention head h) to the positions they occupy along one
/// axis of a coupled tensor, and back. Each coupling kind is its own type with its own inverse.
/// </summary>
public abstract record IndexMap
{
    /// <summary>Positions (ascending) along the target axis that belong to root unit <paramref name="unit"/>.</summary>
    public abstract IEnumerable<long> Positions(long unit);

    /// <summary>The root unit that owns <paramref name="position"/>, or null when the position is not this group's.</summary>
    public abstract long? UnitOf(long position);

    /// <summary>How many target positions each root unit occupies.</summary>
    public abstract long PositionsPerUnit { get; }

    /// <summary>Positions kept on the target axis when <paramref name="keptUnits"/> (ascending) are kept.</summary>
    public long[] KeptPositions(IReadOnlyList<long> keptUnits)
    {
        var result = new List<long>(checked((int)(keptUnits.Count * PositionsPerUnit)));
        foreach (var u in keptUnits) result.AddRange(Positions(u));
        result.Sort();
        return result.ToArray();
    }

    /// <summary>This map followed by <paramref name="next"/> (unit → positions of this map → positions of next).</summary>
    public IndexMap Then(IndexMap next) => this is IdentityMap ? next : next is IdentityMap ? this : new ComposedMap(this, next);
}

/// <summary>Unit u sits at position u (same axis, same size).</summary>
public sealed record IdentityMap : IndexMap
{
    /// <summary>The shared instance.</summary>
    public static IdentityMap Instance { get; } = new();
    /// <inheritdoc/>
    public override IEnumerable<long> Positions(long unit) { yield return unit; }
    /// <inheritdoc/>
    public override long? UnitOf(long position) => position;
    /// <inheritdoc/>
    public override long PositionsPerUnit => 1;
    /// <inheritdoc/>
    public override string ToString() => "identity";
}

/// <summary>Unit u sits at position <c>Offset + u</c>, for units in [0, Count): a Concat input inside the
/// Concat output, or a Split/Slice output inside its input.</summary>
/// <param name="Offset">Where the group's range starts on the target axis.</param>
/// <param name="Count">How many units the range holds.</param>
public sealed record OffsetMap(long Offset, long Count) : IndexMap
{
    /// <inheritdoc/>
    public override IEnumerable<long> Positions(long unit) { yield return Offset + unit; }
    /// <inheritdoc/>
    public override long? UnitOf(long position) => position >= Offset && position < Offset + Count ? position - Offset : null;
    /// <inheritdoc/>
    public override long PositionsPerUnit => 1;
    /// <inheritdoc/>
    public override string ToString() => $"offset {Offset} (+{Count})";
}

/// <summary>Unit u owns the block [u·BlockSize, (u+1)·BlockSize): channel c of a [N,C,H,W] tensor flattened into
/// Gemm columns (BlockSize = H·W), or head h in the Q/K/V columns (BlockSize = head dim).</summary>
/// <param name="BlockSize">Positions per unit.</param>
public sealed record BlockMap(long BlockSize) : IndexMap
{
    /// <inheritdoc/>
    public override IEnumerable<long> Positions(long unit)
    {
        for (long j = 0; j < BlockSize; j++) yield return unit * BlockSize + j;
    }
    /// <inheritdoc/>
    public override long? UnitOf(long position) => position / BlockSize;
    /// <inheritdoc/>
    public override long PositionsPerUnit => BlockSize;
    /// <inheritdoc/>
    public override string ToString() => $"block {BlockSize}";
}

/// <summary>Unit u owns positions u, u+Units, u+2·Units, … (Repeats of them): channel c of a channel-last
/// tensor [N,H,W,C] flattened, where the channel is the fastest-moving index.</summary>
/// <param name="Units">Number of root units (the stride).</param>
/// <param name="Repeats">How many times each unit appears.</param>
public sealed record InterleaveMap(long Units, long Repeats) : IndexMap
{
    /// <inheritdoc/>
    public override IEnumerable<long> Positions(long unit)
    {
        for (long k = 0; k < Repeats; k++) yield return unit + k * Units;
    }
    /// <inheritdoc/>
    public override long? UnitOf(long position) => position % Units;
    /// <inheritdoc/>
    public override long PositionsPerUnit => Repeats;
    /// <inheritdoc/>
    public override string ToString() => $"interleave {Units}×{Repeats}";
}

/// <summary>Two maps in sequence: root unit → positions of <paramref name="First"/>, each of which is a unit of <paramref name="Second"/>.</summary>
/// <param name="First">Applied first.</param>
/// <param name="Second">Applied to each position of the first.</param>
public sealed record ComposedMap(IndexMap First, IndexMap Second) : IndexMap
{
    /// <inheritdoc/>
    public override IEnumerable<long> Positions(long unit) =>
        First.Positions(unit).SelectMany(Second.Positions).Order();
    /// <inheritdoc/>
    public override long? UnitOf(long position) => Second.UnitOf(position) is long mid ? First.UnitOf(mid) : null;
    /// <inheritdoc/>
    public override long PositionsPerUnit => First.PositionsPerUnit * Second.PositionsPerUnit;
    /// <inheritdoc/>
    public override string ToString() => $"{First} then {Second}";
}

/// <summary>Any other layout: an explicit, ascending position list per root unit (e.g. units that are not contiguous
/// after a Concat of a tensor with itself). Every unit owns the same number of positions.</summary>
public sealed record ExplicitMap : IndexMap
{
    private readonly long[][] _positions;
    private readonly Dictionary<long, long> _owner = new();

    /// <summary>Creates the map from each unit's positions (copied and sorted).</summary>
    /// <exception cref="ArgumentException">Units own different numbers of positions, or a position is owned twice.</exception>
    public ExplicitMap(IReadOnlyList<IReadOnlyList<long>> positions)
    {
        ArgumentNullException.ThrowIfNull(positions);
        _positions = positions.Select(p => p.Order().ToArray()).ToArray();
        PositionsPerUnit = _positions.Length == 0 ? 0 : _positions[0].Length;
        for (int u = 0; u < _positions.Length; u++)
        {
            if (_positions[u].Length != PositionsPerUnit)
                throw new ArgumentException($"Unit {u} owns {_positions[u].Length} positions, unit 0 owns {PositionsPerUnit}.", nameof(positions));
            foreach (var p in _positions[u])
                if (!_owner.TryAdd(p, u)) throw new ArgumentException($"Position {p} is owned by units {_owner[p]} and {u}.", nameof(positions));
        }
    }

    /// <summary>Number of units.</summary>
    public int Units => _positions.Length;

    /// <inheritdoc/>
    public override IEnumerable<long> Positions(long unit) => _positions[unit];
    /// <inheritdoc/>
    public override long? UnitOf(long position) => _owner.TryGetValue(position, out var u) ? u : null;
    /// <inheritdoc/>
    public override long PositionsPerUnit { get; }

    /// <inheritdoc/>
    public bool Equals(ExplicitMap? other) =>
        other is not null && other._positions.Length == _positions.Length &&
        _positions.Zip(other._positions).All(p => p.First.AsSpan().SequenceEqual(p.Second));

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(_positions.Length, PositionsPerUnit);

    /// <inheritdoc/>
    public override string ToString() => $"explicit {Units} units × {PositionsPerUnit}";
}
