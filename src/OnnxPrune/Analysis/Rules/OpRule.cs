using OnnxPrune.Graph;

namespace OnnxPrune.Analysis.Rules;

/// <summary>
/// Everything OnnxPrune knows about one op family, in one place: how its output shapes follow from its inputs
/// (<see cref="InferShapes"/>), how channel-carrying dimensions couple through it (<see cref="Couple"/>) and what it
/// costs (<see cref="Macs"/>, <see cref="MacWeightInputs"/>).
/// Adding an op means adding one such type and registering it in <see cref="OpRuleRegistry"/>.
/// </summary>
public abstract class OpRule : IOpTypeRule
{
    /// <summary>Op types (default ONNX domain) this rule handles.</summary>
    public abstract IReadOnlyList<string> OpTypes { get; }

    /// <summary>Sets the node's output types and shapes from its inputs. Leaving an output unset means unknown.</summary>
    public virtual void InferShapes(ShapeContext ctx) { }

    /// <summary>Declares how the node couples dimensions of its inputs, outputs and constant operands, which
    /// dimensions it creates (sources) and which it cannot map. Every dimension of a value the node reads or writes
    /// that the rule neither couples nor acknowledges blocks any group that reaches it.</summary>
    public abstract void Couple(CouplingContext ctx);

    /// <summary>Multiply-accumulates of one inference of the node at concrete shapes, or null when the op is not
    /// counted (the default: bias adds, activations, normalisation and pooling are not counted) or a shape is unknown.
    /// A rule that returns a count for some node should list the operands its count scales with in <see cref="MacWeightInputs"/>.</summary>
    public virtual long? Macs(MacContext ctx) => null;

    /// <summary>Inputs whose element count the node's MACs are proportional to (weight operands): keeping a fraction of
    /// a constant that reaches one (directly or through reorder-only ops) keeps that fraction of the node's MACs.</summary>
    public virtual IReadOnlyList<int> MacWeightInputs => [];

    /// <summary>True when the rule counts MACs for this op type (its nodes are listed as uncounted when shapes are missing).</summary>
    public virtual bool CountsMacs => MacWeightInputs.Count > 0;
}

/// <summary>An instance registry of op rules keyed by op type (the shared <see cref="OpRegistry{TRule}"/> mechanism:
/// explicit registration, a duplicate op type throws).</summary>
public sealed class OpRuleRegistry
{
    private readonly OpRegistry<OpRule> _rules = new();

    /// <summary>The registry with every built-in rule.</summary>
    public static OpRuleRegistry Default { get; } = CreateDefault();

    /// <summary>Registers a rule for each of its op types.</summary>
    /// <exception cref="ArgumentException">One of its op types already has a rule (use <see cref="Replace"/>).</exception>
    public OpRuleRegistry Register(OpRule rule)
    {
        _rules.Register(rule);
        return this;
    }

    /// <summary>Replaces the rules of <paramref name="rule"/>'s op types, which must already have one.</summary>
    public OpRuleRegistry Replace(OpRule rule)
    {
        _rules.Replace(rule);
        return this;
    }

    /// <summary>The rule for a node, or null for unknown ops, non-default domains and nodes with subgraphs.</summary>
    public OpRule? Find(Node node) => node.IsStandard && !node.HasSubgraphs ? _rules.Find(node.OpType) : null;

    /// <summary>The rule registered for <paramref name="opType"/> (default domain), or null.</summary>
    public OpRule? Find(string opType) => _rules.Find(opType);

    /// <summary>Op types with a rule, sorted.</summary>
    public IEnumerable<string> OpTypes => _rules.OpTypes;

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
