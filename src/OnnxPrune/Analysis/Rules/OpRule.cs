using OnnxPrune.Graph;

namespace OnnxPrune.Analysis.Rules;

/// <summary>
/// Everything OnnxPrune knows about one op family, in one place: how its output shapes follow from its inputs
/// (<see cref="InferShapes"/>) and how channel-carrying dimensions couple through it (<see cref="Couple"/>).
/// Adding an op means adding one such type and registering it in <see cref="OpRuleRegistry"/>.
/// </summary>
public abstract class OpRule
{
    /// <summary>Op types (default ONNX domain) this rule handles.</summary>
    public abstract IReadOnlyList<string> OpTypes { get; }

    /// <summary>Sets the node's output types and shapes from its inputs. Leaving an output unset means unknown.</summary>
    public virtual void InferShapes(ShapeContext ctx) { }

    /// <summary>Declares how the node couples dimensions of its inputs, outputs and constant operands, which
    /// dimensions it creates (sources) and which it cannot map. Every dimension of a value the node reads or writes
    /// that the rule neither couples nor acknowledges blocks any group that reaches it.</summary>
    public abstract void Couple(CouplingContext ctx);
}

/// <summary>An instance registry of op rules keyed by op type.</summary>
public sealed class OpRuleRegistry
{
    private readonly Dictionary<string, OpRule> _rules = new(StringComparer.Ordinal);

    /// <summary>The registry with every built-in rule.</summary>
    public static OpRuleRegistry Default { get; } = CreateDefault();

    /// <summary>Registers a rule for each of its op types (replacing earlier ones).</summary>
    public OpRuleRegistry Register(OpRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        foreach (var op in rule.OpTypes) _rules[op] = rule;
        return this;
    }

    /// <summary>The rule for a node, or null for unknown ops, non-default domains and nodes with subgraphs.</summary>
    public OpRule? Find(Node node) => node.IsStandard && !node.HasSubgraphs ? _rules.GetValueOrDefault(node.OpType) : null;

    /// <summary>Op types with a rule.</summary>
    public IEnumerable<string> OpTypes => _rules.Keys.Order(StringComparer.Ordinal);

    /// <summary>A fresh registry holding the built-in rules (to extend without touching <see cref="Default"/>).</summary>
    public static OpRuleRegistry CreateDefault() => new OpRuleRegistry()
        .Register(new ConvRule())
        .Register(new ConvTransposeRule())
        .Register(new ChannelNormRule())
        .Register(new LayerNormRule())
        .Register(new UnaryRule())
        .Register(new BroadcastRule())
        .Register(new PoolRule())
        .Register(new GlobalPoolRule())
        .Register(new PadRule())
        .Register(new ResizeRule())
        .Register(new ConcatRule())
        .Register(new SplitRule())
        .Register(new SliceRule())
        .Register(new ReshapeRule())
        .Register(new FlattenRule())
        .Register(new TransposeRule())
        .Register(new SqueezeRule())
        .Register(new GemmRule())
        .Register(new MatMulRule())
        .Register(new SoftmaxRule())
        .Register(new ReduceRule())
        .Register(new ShapeRule())
        .Register(new GatherRule())
        .Register(new ExpandRule());
}
