using OnnxPrune.Graph;

namespace OnnxPrune.Analysis.Rules;

/// <summary>
/// What an <see cref="OpRule"/> uses to declare couplings for one node. Axes may be negative (counted from the end).
/// Every call that names a dimension of one of the node's inputs or outputs also acknowledges it for this node.
/// </summary>
public sealed class CouplingContext
{
    private readonly UnitGraph _units;
    private readonly ShapeInfo _shapes;
    private readonly HashSet<(Node, Value, int)> _acks;
    private readonly HashSet<(Node, Value)> _ackAll;
    private readonly Dictionary<Value, List<string>> _opaqueValues;

    internal CouplingContext(Node node, long opset, UnitGraph units, ShapeInfo shapes, HashSet<(Node, Value, int)> acks,
        HashSet<(Node, Value)> ackAll, Dictionary<Value, List<string>> opaqueValues)
    {
        Node = node;
        Opset = opset;
        _units = units;
        _shapes = shapes;
        _acks = acks;
        _ackAll = ackAll;
        _opaqueValues = opaqueValues;
    }

    /// <summary>The node.</summary>
    public Node Node { get; }

    /// <summary>The default-domain opset (long.MaxValue when not given).</summary>
    public long Opset { get; }

    /// <summary>Facts about a value.</summary>
    public TensorInfo Info(Value v) => _shapes[v];

    /// <summary>Input <paramref name="i"/>, or null.</summary>
    public Value? In(int i) => Node.Input(i);

    /// <summary>Output <paramref name="i"/>, or null.</summary>
    public Value? Out(int i) => Node.Output(i);

    /// <summary>Rank of a value, or -1 when unknown.</summary>
    public int Rank(Value? v) => v is null ? -1 : _shapes[v].Rank;

    /// <summary>Known size of an axis, or null.</summary>
    public long? Size(Value v, int axis) => _shapes[v].Size(axis);

    /// <summary>A short description of the node for reasons.</summary>
    public string Where => $"{Node.OpType} node {Node.DisplayName}";

    /// <summary>Unit <c>i</c> of a's axis is unit <c>i</c> of b's axis (same size).</summary>
    public void Same(Value a, int axisA, Value b, int axisB)
    {
        var (da, db) = (Dim(a, axisA), Dim(b, axisB));
        if (da is null || db is null) { UnknownPair(a, axisA, da, b, axisB, db); return; }
        if (da.Size != db.Size)
        {
            Opaque(a, axisA, $"{Where}: axis {da.Axis} of '{a.Name}' ({da.Size}) and axis {db.Axis} of '{b.Name}' ({db.Size}) differ");
            Opaque(b, axisB, $"{Where}: axis {da.Axis} of '{a.Name}' ({da.Size}) and axis {db.Axis} of '{b.Name}' ({db.Size}) differ");
            return;
        }
        for (int i = 0; i < da.Size; i++) _units.Union(da.Base + i, db.Base + i);
    }

    /// <summary>Unit <c>i</c> of <paramref name="part"/>'s axis is unit <c>offset + i</c> of <paramref name="whole"/>'s axis
    /// (Concat inputs in the output, Split outputs in the input).</summary>
    public void Offset(Value part, int axisPart, Value whole, int axisWhole, long offset)
    {
        var (dp, dw) = (Dim(part, axisPart), Dim(whole, axisWhole));
        if (dp is null || dw is null) { UnknownPair(part, axisPart, dp, whole, axisWhole, dw); return; }
        if (offset < 0 || offset + dp.Size > dw.Size)
        {
            Opaque(whole, axisWhole, $"{Where}: range [{offset}, {offset + dp.Size}) exceeds axis {dw.Axis} of '{whole.Name}'");
            return;
        }
        for (int i = 0; i < dp.Size; i++) _units.Union(dp.Base + i, dw.Base + (int)offset + i);
    }

    /// <summary>Position <paramref name="posA"/> of a's axis and position <paramref name="posB"/> of b's axis belong to the
    /// same unit (the general form; e.g. grouped convs tie input channel i to weight column i mod channels-per-group).</summary>
    public void Couple(Value a, int axisA, long posA, Value b, int axisB, long posB)
    {
        var (da, db) = (Dim(a, axisA), Dim(b, axisB));
        if (da is null || db is null) { UnknownPair(a, axisA, da, b, axisB, db); return; }
        if (posA < 0 || posA >= da.Size || posB < 0 || posB >= db.Size)
            throw new ArgumentOutOfRangeException(nameof(posA), $"{Where}: position out of range");
        _units.Union(da.Base + (int)posA, db.Base + (int)posB);
    }

    /// <summary>Unit <c>i</c> of <paramref name="outer"/>'s axis owns positions [i·b, (i+1)·b) of <paramref name="flat"/>'s axis
    /// (a channel flattened with its trailing dims, a head in the merged heads·dim axis).</summary>
    public void Block(Value outer, int axisOuter, Value flat, int axisFlat, long blockSize)
    {
        var (dO, dF) = (Dim(outer, axisOuter), Dim(flat, axisFlat));
        if (dO is null || dF is null) { UnknownPair(outer, axisOuter, dO, flat, axisFlat, dF); return; }
        if (dO.Size * blockSize != dF.Size)
        {
            Opaque(flat, axisFlat, $"{Where}: {dO.Size} blocks of {blockSize} do not fill axis {dF.Axis} of '{flat.Name}' ({dF.Size})");
            Opaque(outer, axisOuter, $"{Where}: {dO.Size} blocks of {blockSize} do not fill axis {dF.Axis} of '{flat.Name}' ({dF.Size})");
            return;
        }
        for (int i = 0; i < dO.Size; i++)
            for (int j = 0; j < blockSize; j++) _units.Union(dO.Base + i, dF.Base + (int)(i * blockSize + j));
    }

    /// <summary>Declares that the node creates the units of this axis (Conv output channels, Gemm/MatMul output features).</summary>
    public void Source(Value v, int axis, GroupKind kind)
    {
        if (Dim(v, axis) is { } d && d.SourceKind is null) { d.SourceKind = kind; d.SourceNode = Node; }
    }

    /// <summary>Marks an axis where activations written by different sources are summed (a residual Add): groups through
    /// it are reported as residual streams.</summary>
    public void Join(Value v, int axis)
    {
        if (Dim(v, axis) is { } d) d.Join = true;
    }

    /// <summary>Marks a constant's axis as holding the units' own weights (scored by magnitude criteria).</summary>
    public void Scored(Value constant, int axis)
    {
        if (Dim(constant, axis) is { } d) d.Scored = true;
    }

    /// <summary>No group may include this axis (the node mixes its units, or cannot map it).</summary>
    public void Opaque(Value v, int axis, string reason)
    {
        var n = Normalize(v, axis);
        Ack(v, n);
        if (n < 0) { OpaqueValue(v, reason); return; }
        var size = Size(v, n);
        if (size is null) return; // never registered: nothing can reach it
        if (size > UnitGraph.MaxDimSize) { OpaqueValue(v, reason); return; }
        var d = _units.GetOrAdd(v, n, size.Value);
        if (!d.OpaqueReasons.Contains(reason)) d.OpaqueReasons.Add(reason);
    }

    /// <summary>No group may include any axis of this value.</summary>
    public void OpaqueValue(Value v, string reason)
    {
        _ackAll.Add((Node, v));
        if (!_opaqueValues.TryGetValue(v, out var list)) _opaqueValues[v] = list = new();
        if (!list.Contains(reason)) list.Add(reason);
    }

    /// <summary>Declares that the node is fine with this axis changing size without any coupling (e.g. Shape reads only sizes;
    /// a broadcast operand of size 1).</summary>
    public void Acknowledge(Value v, int axis) => Ack(v, Normalize(v, axis));

    /// <summary>Acknowledges every axis of <paramref name="v"/>.</summary>
    public void AcknowledgeAll(Value v) => _ackAll.Add((Node, v));

    /// <summary>Element <paramref name="index"/> of int constant <paramref name="constant"/> holds the size of this axis (or
    /// size × trailing factor): surgery rewrites it when units on the axis are removed.</summary>
    public void ShapeElement(Value v, int axis, Value constant, int index) => ShapeElement(v, axis, constant, index, Node);

    /// <summary>Same, for a constant read by <paramref name="owner"/> rather than by this node (e.g. the divisor of a
    /// Div that computes a head size for this node's target shape).</summary>
    public void ShapeElement(Value v, int axis, Value constant, int index, Node owner)
    {
        if (Dim(v, axis) is { } d && !d.ShapeElements.Contains((constant, index, owner))) d.ShapeElements.Add((constant, index, owner));
    }

    /// <summary>Integer attribute <paramref name="name"/> of this node (element <paramref name="element"/> of a list attribute,
    /// or -1 for a single int) holds the size of this axis: surgery rewrites it.</summary>
    public void Attribute(Value v, int axis, string name, int element = -1)
    {
        if (Dim(v, axis) is { } d && !d.Attributes.Contains((Node, name, element))) d.Attributes.Add((Node, name, element));
    }

    /// <summary>Positions [<paramref name="start"/>, <paramref name="end"/>) of this axis form a region whose units shrink
    /// element <paramref name="index"/> of int constant <paramref name="constant"/> (null: attribute <paramref name="attribute"/>,
    /// element <paramref name="index"/>) when removed: e.g. the positions before a Slice's start shift its bounds.</summary>
    public void Region(Value v, int axis, long start, long end, string tag, Value? constant, string? attribute, int index)
    {
        if (start >= end || Dim(v, axis) is not { } d) return;
        var region = d.Regions.FirstOrDefault(r => r.Start == start && r.End == end && r.Tag == tag);
        if (region is null) d.Regions.Add(region = new DimRegion { Start = start, End = end, Tag = tag });
        if (constant is not null) region.ShapeElements.Add((constant, index, Node));
        else if (attribute is not null) region.Attributes.Add((Node, attribute, index));
    }

    /// <summary>Identity-couples every axis of two values of the same rank (elementwise ops).</summary>
    public void SameAll(Value a, Value b)
    {
        int r = Math.Max(Rank(a), Rank(b));
        if (Rank(a) != Rank(b) || r < 0)
        {
            OpaqueValue(a, $"{Where}: rank of '{a.Name}' or '{b.Name}' unknown or different");
            OpaqueValue(b, $"{Where}: rank of '{a.Name}' or '{b.Name}' unknown or different");
            return;
        }
        for (int i = 0; i < r; i++) Same(a, i, b, i);
    }

    /// <summary>Normalizes a possibly negative axis against the value's rank; -1 when the rank is unknown or out of range.</summary>
    public int Normalize(Value v, int axis)
    {
        int r = Rank(v);
        if (r < 0) return -1;
        if (axis < 0) axis += r;
        return axis >= 0 && axis < r ? axis : -1;
    }

    private DimNode? Dim(Value v, int axis)
    {
        var n = Normalize(v, axis);
        Ack(v, n);
        if (n < 0) return null;
        var size = Size(v, n);
        if (size is null) return null;
        if (size > UnitGraph.MaxDimSize) { OpaqueValue(v, $"{Where}: axis {n} of '{v.Name}' is too large to track"); return null; }
        return _units.GetOrAdd(v, n, size.Value);
    }

    private void Ack(Value v, int axis)
    {
        if (axis >= 0) _acks.Add((Node, v, axis));
        else _ackAll.Add((Node, v));
    }

    private void UnknownPair(Value a, int axisA, DimNode? da, Value b, int axisB, DimNode? db)
    {
        if (da is null && db is null) return;
        var reason = $"{Where}: cannot relate axis {axisA} of '{a.Name}' to axis {axisB} of '{b.Name}' (size unknown)";
        if (da is not null) da.OpaqueReasons.Add(reason);
        if (db is not null) db.OpaqueReasons.Add(reason);
    }
}
