using OnnxPrune.Graph;

namespace OnnxPrune.Tests.Graph;

/// <summary>Expression dims: canonical forms (equal computations compare equal) and evaluation under bindings.</summary>
public class DimExpressionTests
{
    private static readonly Dim W = new("width"), B = new("batch"), T = new("seq");

    [Test]
    public void ConstantsFoldAndIdentitiesVanish()
    {
        Assert.That(DimExpression.Add(DimExpression.Add(W, -3), 3), Is.EqualTo(W));
        Assert.That(DimExpression.Mul(W, 1), Is.EqualTo(W));
        Assert.That(DimExpression.FloorDiv(DimExpression.Mul(DimExpression.Mul(B, T), 768), 768), Is.EqualTo(DimExpression.Mul(B, T)));
        Assert.That(DimExpression.Add(new Dim(4), 3), Is.EqualTo(new Dim(7)));
        Assert.That(DimExpression.FloorDiv(new Dim(7), 2), Is.EqualTo(new Dim(3)));
        Assert.That(DimExpression.Add(Dim.Unknown, 1).IsKnown, Is.False);
        Assert.That(DimExpression.Add(Dim.Unknown, 1).Param, Is.Null, "unknown stays unknown");
        Assert.That(DimExpression.FloorDiv(W, 0), Is.EqualTo(Dim.Unknown));
    }

    [Test]
    public void SameComputationSameStringAndEvaluation()
    {
        Dim Window(Dim n) => DimExpression.Add(DimExpression.FloorDiv(DimExpression.Add(n, 2 - 3), 2), 1);
        var a = Window(Window(W));
        var b = Window(Window(new Dim("width")));
        Assert.That(a, Is.EqualTo(b));
        Assert.That(DimExpression.IsExpression(a.Param), Is.True);
        Assert.That(DimExpression.IsExpression("width"), Is.False);
        foreach (long w in new long[] { 1, 2, 7, 320, 321 })
        {
            long once = (w - 1) / 2 + 1, twice = (once - 1) / 2 + 1;
            Assert.That(DimExpression.Evaluate(a.Param!, new Dictionary<string, long> { ["width"] = w }), Is.EqualTo(twice));
            Assert.That(new DimBindings(new Dictionary<string, long> { ["width"] = w }).Resolve(a), Is.EqualTo(new Dim(twice)));
        }
        Assert.That(DimExpression.Evaluate(a.Param!, new Dictionary<string, long>()), Is.Null, "unbound name");
        Assert.That(DimExpression.Evaluate("(garbage", new Dictionary<string, long>()), Is.Null);
        Assert.That(DimExpression.Evaluate("(({a}+1)-2)", new Dictionary<string, long> { ["a"] = 1 }), Is.Null, "not this grammar");
    }

    [Test]
    public void NamesWithOperatorsAndDotsSurvive()
    {
        var d = DimExpression.Mul(new Dim("p2o.DynamicDimension.0"), new Dim("past_sequence_length + 1"));
        Assert.That(DimExpression.Evaluate(d.Param!, new Dictionary<string, long> { ["p2o.DynamicDimension.0"] = 3, ["past_sequence_length + 1"] = 5 }), Is.EqualTo(15));
    }
}
