namespace OnnxPrune.Graph;

/// <summary>A rule about one family of default-domain ops, registered under each of its op types.</summary>
public interface IOpTypeRule
{
    /// <summary>Op types (default ONNX domain) the rule handles.</summary>
    IReadOnlyList<string> OpTypes { get; }
}

/// <summary>
/// The one registration mechanism for per-op rules (pruning rules in <c>Analysis/Rules</c>, gradient rules in
/// <c>Training/Gradients</c>): an instance map from op type to rule, filled by explicit <see cref="Register"/> calls
/// (no reflection, so the list of built-in rules is code a reader can see).
/// </summary>
/// <remarks>Registering a second rule for an op type throws instead of silently replacing the first ("last one wins"
/// hides which rule runs); a caller that means to override a rule says so with <see cref="Replace"/>.</remarks>
/// <typeparam name="TRule">The rule type.</typeparam>
public sealed class OpRegistry<TRule> where TRule : class, IOpTypeRule
{
    private readonly Dictionary<string, TRule> _rules = new(StringComparer.Ordinal);

    /// <summary>Registers <paramref name="rule"/> for each of its op types.</summary>
    /// <exception cref="ArgumentException">An op type already has a rule (the message names both rule types), or the
    /// rule lists no op type; nothing is registered then.</exception>
    public void Register(TRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        if (rule.OpTypes.Count == 0) throw new ArgumentException($"Rule {rule.GetType().Name} lists no op type.", nameof(rule));
        foreach (var op in rule.OpTypes)
            if (_rules.TryGetValue(op, out var existing))
                throw new ArgumentException($"Op type '{op}' already has a rule ({existing.GetType().Name}); {rule.GetType().Name} cannot be registered for it too (use Replace to override on purpose).", nameof(rule));
        if (rule.OpTypes.Distinct(StringComparer.Ordinal).Count() != rule.OpTypes.Count)
            throw new ArgumentException($"Rule {rule.GetType().Name} lists an op type twice.", nameof(rule));
        foreach (var op in rule.OpTypes) _rules[op] = rule;
    }

    /// <summary>Replaces the rules of <paramref name="rule"/>'s op types (each must already have one) by it.</summary>
    /// <exception cref="ArgumentException">An op type has no rule to replace; nothing is replaced then.</exception>
    public void Replace(TRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        foreach (var op in rule.OpTypes)
            if (!_rules.ContainsKey(op))
                throw new ArgumentException($"Op type '{op}' has no rule to replace; register {rule.GetType().Name} instead.", nameof(rule));
        foreach (var op in rule.OpTypes) _rules[op] = rule;
    }

    /// <summary>The rule for <paramref name="opType"/>, or null.</summary>
    public TRule? Find(string opType) => _rules.GetValueOrDefault(opType);

    /// <summary>Every op type with a rule, sorted ordinally.</summary>
    public IEnumerable<string> OpTypes => _rules.Keys.Order(StringComparer.Ordinal);

    /// <summary>Every distinct rule, in registration order of its first op type.</summary>
    public IEnumerable<TRule> Rules => _rules.Values.Distinct();
}
