using System.Globalization;
using OnnxPrune.Graph;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;

namespace OnnxPrune.Pruning;

/// <summary>How <see cref="EquivalenceCheck"/> runs.</summary>
public sealed record VerificationOptions
{
    /// <summary>Random input sets to try (default 2).</summary>
    public int Samples { get; init; } = 2;

    /// <summary>Largest acceptable relative difference (default 1e-4).</summary>
    public double Tolerance { get; init; } = 1e-4;

    /// <summary>Seed of the random inputs.</summary>
    public int Seed { get; init; }

    /// <summary>Values of symbolic input dims (by name); a symbolic first dim is otherwise 1 and any other <see cref="DefaultDim"/>.</summary>
    public IReadOnlyDictionary<string, long> Dims { get; init; } = new Dictionary<string, long>();

    /// <summary>Size of symbolic non-batch dims without a value (default 64).</summary>
    public long DefaultDim { get; init; } = 64;

    /// <summary>Smallest output scale divided by (default 0.01): an output whose largest magnitude is below it is
    /// compared in absolute terms, <c>diff / ScaleFloor</c>. Saturated sigmoid/softmax tails (ppocrv3_det's probabilities
    /// peak at 4e-5 on random inputs) otherwise turn float32 rounding (1.5e-7 absolute, 2e-7 relative on the logits)
    /// into a 3e-3 "relative" error.</summary>
    public double ScaleFloor { get; init; } = 0.01;

    /// <summary>Graph inputs and outputs whose size changed (<see cref="Analysis.AnalysisOptions.AllowInterfaceChange"/>):
    /// name → the axis and the positions the pruned model keeps. The pruned model gets those inputs sliced, and the
    /// reference's outputs are sliced before comparing. <see cref="Pruner"/> fills this from the plan.</summary>
    public IReadOnlyDictionary<string, (int Axis, long[] Kept)> Interface { get; init; } = new Dictionary<string, (int Axis, long[] Kept)>();
}

/// <summary>
/// The equivalence oracle on ONNX Runtime: the pruned model must compute what the masked reference (the original
/// with the removed units zeroed, <see cref="MaskedReference"/>) computes.
/// </summary>
/// <remarks>Per output, the relative difference is <c>max|pruned − reference| / max(max|reference|, ScaleFloor)</c>;
/// the result is the largest over outputs and samples. Any NaN or infinity in either output, a missing output or a
/// shape mismatch makes it infinite.</remarks>
public static class EquivalenceCheck
{
    /// <summary>Runs both models on the same seeded random inputs and compares every output.</summary>
    /// <exception cref="OnnxPruneException">ONNX Runtime rejects a model (its own exception type).</exception>
    public static VerificationResult Run(OnnxModel reference, OnnxModel pruned, VerificationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(pruned);
        options ??= new VerificationOptions();
        var settings = new SessionSettings { AllowSpinning = false };
        using var expectedSession = OrtSessions.Create(reference, settings);
        using var actualSession = OrtSessions.Create(pruned, settings);
        var dims = new Dictionary<string, long>(options.Dims, StringComparer.Ordinal);
        foreach (var (name, input) in expectedSession.InputMetadata)
            for (int axis = 0; axis < input.Dimensions.Length; axis++)
                if (input.Dimensions[axis] < 0 && !(input.SymbolicDimensions.Length > axis && input.SymbolicDimensions[axis] is { Length: > 0 } s && options.Dims.ContainsKey(s)))
                    dims[string.Create(CultureInfo.InvariantCulture, $"{name}:{axis}")] = axis == 0 ? 1 : options.DefaultDim;
        double worst = 0;
        for (int sample = 0; sample < options.Samples; sample++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var inputs = RandomInputs.Create(expectedSession.InputMetadata, options.Seed + sample, dims);
            var expected = expectedSession.RunTensors(inputs);
            var actual = actualSession.RunTensors(options.Interface.Count == 0 ? inputs
                : inputs.ToDictionary(kv => kv.Key, kv => options.Interface.TryGetValue(kv.Key, out var cut) ? TensorSlicing.Keep(kv.Value, cut.Axis, cut.Kept) : kv.Value));
            foreach (var (name, full) in expected)
            {
                var e = options.Interface.TryGetValue(name, out var cut) ? TensorSlicing.Keep(full, cut.Axis, cut.Kept) : full;
                worst = Math.Max(worst, actual.TryGetValue(name, out var a) ? RelativeDifference(e, a, options.ScaleFloor) : double.PositiveInfinity);
            }
        }
        return new VerificationResult(worst, options.Samples, worst <= options.Tolerance, options.Tolerance);
    }

    /// <summary><c>max|a − e| / max(max|e|, scaleFloor)</c>; infinite on a shape mismatch or a non-finite value.</summary>
    public static double RelativeDifference(Tensor expected, Tensor actual, double scaleFloor = 0)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        if (!expected.Shape.SequenceEqual(actual.Shape) || !ElementTypes.IsFloatingPoint(expected.ElementType) && expected.ElementType != actual.ElementType)
            return double.PositiveInfinity;
        var e = expected.ToFloatArray();
        var a = actual.ToFloatArray();
        double scale = 0, diff = 0;
        for (int i = 0; i < e.Length; i++)
        {
            if (!float.IsFinite(e[i]) || !float.IsFinite(a[i])) return double.PositiveInfinity;
            scale = Math.Max(scale, Math.Abs(e[i]));
            diff = Math.Max(diff, Math.Abs((double)e[i] - a[i]));
        }
        scale = Math.Max(scale, scaleFloor);
        return scale == 0 ? diff : diff / scale;
    }
}
