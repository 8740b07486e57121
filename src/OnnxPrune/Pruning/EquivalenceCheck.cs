using System.Globalization;
using OnnxPrune.Analysis;
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

/// <summary>The inputs for <see cref="EquivalenceCheck"/> cannot be chosen: sizes given or chosen for the model's symbolic
/// input dims do not fit together (e.g. an attention mask's length must be the cache length plus the sequence length). The
/// message names the dims and asks for consistent <c>--dim</c> values.</summary>
public sealed class VerificationInputException : OnnxPruneException
{
    /// <summary>Creates the exception.</summary>
    public VerificationInputException(string message, Exception? inner = null) : base(message, inner) { }
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
    /// <exception cref="VerificationInputException">No consistent sizes for the symbolic input dims (see <see cref="InputDims"/>),
    /// or ONNX Runtime rejects the inputs on the reference model.</exception>
    public static VerificationResult Run(OnnxModel reference, OnnxModel pruned, VerificationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(pruned);
        options ??= new VerificationOptions();
        var settings = new SessionSettings { AllowSpinning = false };
        using var expectedSession = OrtSessions.Create(reference, settings);
        using var actualSession = OrtSessions.Create(pruned, settings);
        var dims = InputDims(reference, options);
        foreach (var (name, input) in expectedSession.InputMetadata)
            for (int axis = 0; axis < input.Dimensions.Length; axis++)
                if (input.Dimensions[axis] < 0 && !(input.SymbolicDimensions.Length > axis && !string.IsNullOrWhiteSpace(input.SymbolicDimensions[axis])))
                    dims.TryAdd(string.Create(CultureInfo.InvariantCulture, $"{name}:{axis}"), axis == 0 ? 1 : options.DefaultDim); // unnamed dims
        double worst = 0;
        for (int sample = 0; sample < options.Samples; sample++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var inputs = RandomInputs.Create(expectedSession.InputMetadata, options.Seed + sample, dims);
            IReadOnlyDictionary<string, Tensor> expected;
            try { expected = expectedSession.RunTensors(inputs); }
            catch (OrtCallException e)
            {
                // The reference is the original model with some weights zeroed: if it rejects the inputs, the sizes chosen
                // for its symbolic dims do not fit together in a way the shape engine did not see.
                var used = string.Join(", ", dims.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));
                throw new VerificationInputException(
                    $"ONNX Runtime rejected the verification inputs built from the dims {used}: {e.Message} The model's symbolic dims are probably " +
                    "tied by its shape arithmetic in a way OnnxPrune could not work out; give every symbolic input dim consistent values with " +
                    "--dim NAME=VALUE (VerificationOptions.Dims).", e);
            }
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

    /// <summary>Sizes for the symbolic dims of <paramref name="reference"/>'s data inputs: the given ones, then defaults
    /// (a leading dim 1, any other <see cref="VerificationOptions.DefaultDim"/>) chosen so that the relations the shape
    /// engine finds between them hold (<see cref="DimTies"/>: a mask of <c>total</c> = <c>past + seq</c> gets that sum).</summary>
    /// <exception cref="VerificationInputException">The given sizes, or the defaults, break a relation between the dims
    /// (the message names both sides, their values and the node, and asks for <c>--dim</c>).</exception>
    public static Dictionary<string, long> InputDims(OnnxModel reference, VerificationOptions options)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(options);
        var shapes = ShapeInference.Infer(reference.Graph, reference.GetOpset(""));
        var choice = DimTies.Choose(reference.Graph, shapes, options.Dims, 1, options.DefaultDim);
        if (choice.Violations.Count > 0)
        {
            var names = string.Join(", ", shapes.Ties.SelectMany(t => DimTies.Names(t.A).Concat(DimTies.Names(t.B))).Distinct()
                .Where(n => reference.Graph.DataInputs.Any(i => i.Shape?.Any(d => d.Param == n) == true)).Select(n => $"--dim {n}=..."));
            throw new VerificationInputException(
                $"Cannot choose verification inputs whose symbolic dims fit together: {string.Join("; ", choice.Violations)}. " +
                $"Give consistent values for the model's tied input dims ({names}).");
        }
        var dims = new Dictionary<string, long>(options.Dims, StringComparer.Ordinal);
        foreach (var (name, value) in choice.Dims) dims.TryAdd(name, value);
        return dims;
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
