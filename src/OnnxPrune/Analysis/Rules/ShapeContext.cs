using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Analysis.Rules;

/// <summary>What an <see cref="OpRule"/> sees while inferring shapes for one node.</summary>
public sealed class ShapeContext
{
    private readonly Dictionary<Value, TensorInfo> _infos;
    private readonly List<DimTie>? _ties;

    internal ShapeContext(Node node, Dictionary<Value, TensorInfo> infos, long opset, List<DimTie>? ties = null)
    {
        Node = node;
        _infos = infos;
        Opset = opset;
        _ties = ties;
    }

    /// <summary>Records that two sizes meet where the op needs them equal (or, when broadcasting, one of them 1): a relation
    /// between symbolic dims, e.g. an attention mask's <c>total</c> and the cache's <c>({past}+{seq})</c>. Pairs that are
    /// equal, both known, or unknown are ignored.</summary>
    public void Tie(Dim a, Dim b)
    {
        if (_ties is null || a == b || (a.IsKnown && b.IsKnown) || (a.Param is null && !a.IsKnown) || (b.Param is null && !b.IsKnown)) return;
        _ties.Add(new DimTie(a, b, Node));
    }

    /// <summary>The node.</summary>
    public Node Node { get; }

    /// <summary>The default-domain opset (long.MaxValue when not given).</summary>
    public long Opset { get; }

    /// <summary>Facts about input <paramref name="index"/> (unknown when absent).</summary>
    public TensorInfo Input(int index) => Node.Input(index) is { } v ? _infos.GetValueOrDefault(v) ?? TensorInfo.Unknown : TensorInfo.Unknown;

    /// <summary>Number of inputs (including omitted ones).</summary>
    public int InputCount => Node.Inputs.Count;

    /// <summary>What is known so far about any value (e.g. the value a tracked Shape element reads).</summary>
    public TensorInfo Info(Value value) => _infos.GetValueOrDefault(value) ?? TensorInfo.Unknown;

    /// <summary>The known values of a small integer input (e.g. a Reshape target), or null.</summary>
    public long[]? InputValues(int index) => Input(index).KnownValues;

    /// <summary>Output 0 gets input 0's element type and shape (normalizations, softmax).</summary>
    public void OutputLikeInput()
    {
        var x = Input(0);
        SetOutput(0, x.ElementType, x.Shape);
    }

    /// <summary>Sets output <paramref name="index"/>.</summary>
    public void SetOutput(int index, TensorInfo info)
    {
        if (Node.Output(index) is { } v) _infos[v] = info;
    }

    /// <summary>Sets output <paramref name="index"/> from a type and shape.</summary>
    public void SetOutput(int index, ElementType type, IReadOnlyList<Dim>? shape, IReadOnlyList<TrackedElement>? elements = null) =>
        SetOutput(index, new TensorInfo(type, shape, elements));
}
