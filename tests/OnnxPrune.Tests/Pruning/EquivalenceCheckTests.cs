using OnnxPrune.Pruning;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Pruning;

public class EquivalenceCheckTests
{
    private static Tensor T(params float[] v) => Tensor.FromArray<float>(v, v.Length);

    [Test]
    public void RelativeDifferenceIsScaledByTheLargestReferenceMagnitudeWithAFloor()
    {
        Assert.That(EquivalenceCheck.RelativeDifference(T(10, -20, 5), T(10, -20.02f, 5)), Is.EqualTo(0.02 / 20).Within(1e-6));
        Assert.That(EquivalenceCheck.RelativeDifference(T(4e-5f, 0), T(4e-5f + 1.5e-7f, 0), 0.01), Is.EqualTo(1.5e-5).Within(1e-7));
        Assert.That(EquivalenceCheck.RelativeDifference(T(0, 0), T(0, 1e-3f)), Is.EqualTo(1e-3).Within(1e-9), "all-zero reference: absolute");
        Assert.That(EquivalenceCheck.RelativeDifference(T(1, 2), T(1, float.NaN)), Is.EqualTo(double.PositiveInfinity));
        Assert.That(EquivalenceCheck.RelativeDifference(T(1, 2), T(1, 2, 3)), Is.EqualTo(double.PositiveInfinity));
    }
}
