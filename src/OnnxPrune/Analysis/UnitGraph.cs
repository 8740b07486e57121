using OnnxPrune.Graph;

namespace OnnxPrune.Analysis;

/// <summary>One registered dimension: an axis of a value (activation or constant) with a known size, owning
/// <see cref="Size"/> consecutive positions in the union-find.</summary>
internal sealed class DimNode
{
    public required int Id { get; init; }
    public required Value Value { get; init; }
    public required int Axis { get; init; }
    public required long Size { get; init; }
    public required int Base { get; init; }
    public GroupKind? SourceKind { get; set; }
    public Node? SourceNode { get; set; }
    public bool Scored { get; set; }
    public bool Join { get; set; }
    public List<string> OpaqueReasons { get; } = new();
    public List<(Value Constant, int Index, Node Owner)> ShapeElements { get; } = new();
    public List<(Node Node, string Name, int Element)> Attributes { get; } = new();
    public List<DimRegion> Regions { get; } = new();
    public override string ToString() => $"{Value.Name}[{Axis}]×{Size}";
}

/// <summary>A tagged range of positions of a dimension whose units need their own rewrites (the positions before a
/// Slice's start, the padded positions of a Pad). Units inside a region form their own groups.</summary>
internal sealed class DimRegion
{
    public required long Start { get; init; }
    public required long End { get; init; }
    public required string Tag { get; init; }
    public List<(Value Constant, int Index, Node Owner)> ShapeElements { get; } = new();
    public List<(Node Node, string Name, int Element)> Attributes { get; } = new();
}

/// <summary>
/// The coupling structure: every position of every registered dimension is an element of a union-find; op rules
/// unite positions that must be pruned together. A connected component that contains a position of a source
/// dimension is one prunable unit.
/// </summary>
internal sealed class UnitGraph
{
    /// <summary>Most positions one dimension may have (larger axes are marked opaque instead).</summary>
    public const long MaxDimSize = 1 << 20;

    private readonly List<int> _parent = new();
    private readonly List<byte> _rank = new();
    private readonly Dictionary<(Value, int), DimNode> _dims = new();
    private readonly List<DimNode> _list = new();

    public IReadOnlyList<DimNode> Dims => _list;

    public DimNode? Find(Value v, int axis) => _dims.GetValueOrDefault((v, axis));

    public DimNode GetOrAdd(Value v, int axis, long size)
    {
        if (_dims.TryGetValue((v, axis), out var d)) return d;
        if (size > MaxDimSize) throw new InvalidOperationException("dimension too large");
        d = new DimNode { Id = _list.Count, Value = v, Axis = axis, Size = size, Base = _parent.Count };
        for (int i = 0; i < size; i++) { _parent.Add(_parent.Count); _rank.Add(0); }
        _dims.Add((v, axis), d);
        _list.Add(d);
        return d;
    }

    public int Root(int p)
    {
        while (_parent[p] != p)
        {
            _parent[p] = _parent[_parent[p]];
            p = _parent[p];
        }
        return p;
    }

    public void Union(int a, int b)
    {
        a = Root(a); b = Root(b);
        if (a == b) return;
        if (_rank[a] < _rank[b]) (a, b) = (b, a);
        _parent[b] = a;
        if (_rank[a] == _rank[b]) _rank[a]++;
    }

    public int PositionCount => _parent.Count;
}
