using OnnxPrune.Analysis.Rules;
using OnnxPrune.Graph;
using OnnxPrune.Training;
using OnnxPrune.Training.Gradients;

namespace OnnxPrune.Tests.Graph;

/// <summary>The one registration mechanism of pruning and gradient rules, and the coverage gap between them.</summary>
public class OpRegistryTests
{
    // Ops a model can be pruned through but not trained through (no gradient rule). Shrinking this list is progress:
    // update it when a gradient rule is added; growing it means a pruning rule was added without its gradient.
    private static readonly string[] PrunedNotTrained =
    [
        "And", "Cast", "Ceil", "Celu", "ConstantOfShape", "Cos", "Elu", "Equal", "Floor", "GlobalLpPool", "Greater",
        "Hardmax", "InstanceNormalization", "IsNaN", "Less", "LpPool", "Max", "Mean", "Min", "Mish", "Not", "Or", "PRelu",
        "ReduceL1", "ReduceL2", "ReduceLogSumExp", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare",
        "Round", "Selu", "Shape", "Sign", "Sin", "Softsign", "Sum", "ThresholdedRelu", "Where",
    ];

    // Ops a model can be trained through but whose channels the analyser cannot couple (groups through them block).
    private static readonly string[] TrainedNotPruned = ["Log", "Reciprocal"];

    [Test]
    public void CoverageGapBetweenPruningAndGradientRulesIsTheExpectedOne()
    {
        var pruned = OpRuleRegistry.CreateDefault().OpTypes.ToHashSet(StringComparer.Ordinal);
        var trained = GradientRegistry.CreateDefault().OpTypes.ToHashSet(StringComparer.Ordinal);
        Assert.That(pruned.Except(trained).Order(StringComparer.Ordinal), Is.EqualTo(PrunedNotTrained), "pruned but not trained");
        Assert.That(trained.Except(pruned).Order(StringComparer.Ordinal), Is.EqualTo(TrainedNotPruned), "trained but not pruned");
    }

    [Test]
    public void DuplicatePruningRuleThrowsAndLeavesTheRegistryAsItWas()
    {
        var registry = OpRuleRegistry.CreateDefault();
        var before = registry.OpTypes.ToArray();
        var e = Assert.Throws<ArgumentException>(() => registry.Register(new ConvRule()));
        Assert.That(e!.Message, Does.Contain("'Conv'").And.Contain(nameof(ConvRule)));
        Assert.That(registry.OpTypes, Is.EqualTo(before));
    }

    [Test]
    public void DuplicateGradientRuleThrows()
    {
        var registry = GradientRegistry.CreateDefault();
        var e = Assert.Throws<ArgumentException>(() => registry.Register(new GemmGradient()));
        Assert.That(e!.Message, Does.Contain("'Gemm'"));
    }

    [Test]
    public void ReplaceOverridesOnPurposeAndRefusesUnknownOps()
    {
        var registry = GradientRegistry.CreateDefault();
        var replacement = new GemmGradient();
        registry.Replace(replacement);
        Assert.That(registry.Find("Gemm"), Is.SameAs(replacement));
        var rules = new OpRegistry<IGradientRule>();
        Assert.Throws<ArgumentException>(() => rules.Replace(new GemmGradient()));
        Assert.That(rules.Find("Gemm"), Is.Null);
    }

    [Test]
    public void DefaultRegistriesListEveryRuleTypeOfTheAssembly()
    {
        // Explicit registration must not forget a rule: every concrete rule type in the library is registered.
        var assembly = typeof(OpRule).Assembly;
        var pruningTypes = assembly.GetTypes().Where(t => t is { IsAbstract: false } && typeof(OpRule).IsAssignableFrom(t)).Select(t => t.Name).Order().ToArray();
        var gradientTypes = assembly.GetTypes().Where(t => t is { IsAbstract: false, IsClass: true } && typeof(IGradientRule).IsAssignableFrom(t)).Select(t => t.Name).Order().ToArray();
        var pruning = OpRuleRegistry.CreateDefault();
        var gradients = GradientRegistry.CreateDefault();
        Assert.That(pruning.OpTypes.Select(op => pruning.Find(op)!.GetType().Name).Distinct().Order(), Is.EqualTo(pruningTypes));
        Assert.That(gradients.OpTypes.Select(op => gradients.Find(op)!.GetType().Name).Distinct().Order(), Is.EqualTo(gradientTypes));
    }
}
