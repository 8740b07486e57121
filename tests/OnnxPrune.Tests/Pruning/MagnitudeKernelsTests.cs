using OnnxPrune.Pruning.Importance;

namespace OnnxPrune.Tests.Pruning;

/// <summary>The vector loops of magnitude scoring against a double-precision element-wise reference, at lengths around
/// the vector width (empty, tails only, one and two vectors plus a tail, long runs).</summary>
public class MagnitudeKernelsTests
{
    private static readonly int[] Lengths = [0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 1000, 9216 + 5];

    [Test]
    public void SumsOfSquaresAndMagnitudesMatchAnElementWiseReference()
    {
        var random = new Random(7);
        foreach (int n in Lengths)
        {
            var x = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
            double squares = x.Sum(v => (double)v * v), magnitudes = x.Sum(v => Math.Abs((double)v));
            Assert.That(MagnitudeKernels.SumOfSquares(x), Is.EqualTo(squares).Within(1e-5 * Math.Max(1, squares)), $"length {n}");
            Assert.That(MagnitudeKernels.SumOfMagnitudes(x), Is.EqualTo(magnitudes).Within(1e-5 * Math.Max(1, magnitudes)), $"length {n}");
        }
    }

    [Test]
    public void AccumulateAddsSquaresOrMagnitudesElementWise()
    {
        var random = new Random(8);
        foreach (int n in Lengths)
            foreach (bool squares in new[] { true, false })
            {
                var x = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
                var sum = Enumerable.Range(0, n).Select(i => (float)i).ToArray();
                MagnitudeKernels.Accumulate(x, sum, squares);
                var expected = Enumerable.Range(0, n).Select(i => (float)(i + (squares ? (double)x[i] * x[i] : Math.Abs((double)x[i])))).ToArray();
                Assert.That(sum, Is.EqualTo(expected).Within(1e-4).Percent, $"length {n}, squares {squares}");
            }
        Assert.Throws<ArgumentException>(() => MagnitudeKernels.Accumulate(new float[3], new float[4], squares: true));
    }

    [Test]
    public void NaNAndInfinityPropagate()
    {
        var x = new float[40];
        x[37] = float.NaN; // in the tail or a vector, depending on the width
        Assert.That(float.IsNaN(MagnitudeKernels.SumOfSquares(x)), Is.True);
        x[37] = float.NegativeInfinity;
        Assert.That(MagnitudeKernels.SumOfMagnitudes(x), Is.EqualTo(float.PositiveInfinity));
        x[3] = float.NaN;
        Assert.That(float.IsNaN(MagnitudeKernels.SumOfMagnitudes(x)), Is.True);
    }
}
