using OnnxPrune.Graph;

namespace OnnxPrune.Analysis.Rules;

/// <summary>What an <see cref="OpRule"/> sees while counting one node's multiply-accumulates: the node and the concrete
/// shapes of its inputs and outputs (from the shape engine with the cost options' dims substituted).</summary>
public sealed class MacContext
{
    private readonly Func<Value?, long[]?> _shapeOf;

    /// <summary>Creates a context over <paramref name="node"/> and a concrete-shape lookup (null for unknown).</summary>
    public MacContext(Node node, Func<Value?, long[]?> shapeOf)
    {
        Node = node ?? throw new ArgumentNullException(nameof(node));
        _shapeOf = shapeOf ?? throw new ArgumentNullException(nameof(shapeOf));
    }

    /// <summary>The node.</summary>
    public Node Node { get; }

    /// <summary>The concrete shape of input <paramref name="index"/>, or null (absent or unknown).</summary>
    public long[]? Input(int index) => _shapeOf(Node.Input(index));

    /// <summary>The concrete shape of output <paramref name="index"/>, or null.</summary>
    public long[]? Output(int index) => _shapeOf(Node.Output(index));

    /// <summary>The product of <paramref name="dims"/> (checked).</summary>
    public static long Product(ReadOnlySpan<long> dims)
    {
        long p = 1;
        foreach (var d in dims) p = checked(p * d);
        return p;
    }
}
