using System.Reflection;

namespace OnnxPrune.Training;

/// <summary>
/// Gradient rules by op type. <see cref="CreateDefault"/> collects every public rule type of this assembly (one per op
/// family, in <c>Training/Gradients/</c>); callers may add or replace rules on their own instance.
/// </summary>
public sealed class GradientRegistry
{
    private readonly Dictionary<string, IGradientRule> _rules = new(StringComparer.Ordinal);

    /// <summary>A registry holding all of OnnxPrune's built-in rules.</summary>
    public static GradientRegistry CreateDefault()
    {
        var registry = new GradientRegistry();
        var types = typeof(GradientRegistry).Assembly.GetTypes()
            .Where(t => t is { IsAbstract: false, IsClass: true } && typeof(IGradientRule).IsAssignableFrom(t) && t.GetConstructor(Type.EmptyTypes) is not null)
            .OrderBy(t => t.FullName, StringComparer.Ordinal);
        foreach (var type in types) registry.Add((IGradientRule)Activator.CreateInstance(type)!);
        return registry;
    }

    /// <summary>Registers (or replaces) the rule for each of its op types.</summary>
    public GradientRegistry Add(IGradientRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        foreach (var op in rule.OpTypes) _rules[op] = rule;
        return this;
    }

    /// <summary>The rule for an op type, or null.</summary>
    public IGradientRule? Find(string opType) => _rules.GetValueOrDefault(opType);

    /// <summary>Every op type with a rule, sorted.</summary>
    public IEnumerable<string> OpTypes => _rules.Keys.Order(StringComparer.Ordinal);
}
