using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;

namespace OnnxPrune.Training;

/// <summary>The mean squared gap between a student's outputs and its teacher's on held-out data.</summary>
/// <param name="Mean">Mean over the distilled outputs of each output's per-element mean squared difference.</param>
/// <param name="PerOutput">Each output's per-element mean squared difference.</param>
/// <param name="Count">Samples compared.</param>
public sealed record DistillationGap(double Mean, IReadOnlyDictionary<string, double> PerOutput, int Count)
{
    /// <inheritdoc/>
    public override string ToString() => FormattableString.Invariant($"{Mean:G4} ({string.Join(", ", PerOutput.Select(p => $"{p.Key} {p.Value:G4}"))}) on {Count} samples");
}

/// <summary>
/// Label-free fine-tuning by distillation, for any model the gradient builder supports (detectors, segmenters,
/// recognizers, classifiers): the teacher's outputs on the data become the targets of the student's matching outputs,
/// with mean squared error on maps and boxes and temperature KL on logits [B, K].
/// </summary>
public static class Distillation
{
    /// <summary>
    /// The outputs to distil: <paramref name="names"/>, or every float output the student and teacher share by name (by
    /// position when the names differ). Throws when a named output is missing in either model.
    /// </summary>
    /// <exception cref="UnsupportedModelException">An output is missing in the student or the teacher (named).</exception>
    public static IReadOnlyList<string> ChooseOutputs(OnnxModel student, OnnxModel teacher, IReadOnlyList<string>? names)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(teacher);
        var s = student.Graph.Outputs.Select(o => o.Name).ToArray();
        var t = teacher.Graph.Outputs.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        if (names is { Count: > 0 })
        {
            foreach (var n in names)
            {
                if (!s.Contains(n)) throw new UnsupportedModelException($"The student has no output '{n}' (its outputs: {string.Join(", ", s)}).");
                if (!t.Contains(n)) throw new UnsupportedModelException($"The teacher has no output '{n}' (its outputs: {string.Join(", ", t)}).");
            }
            return names.ToArray();
        }
        var shared = student.Graph.Outputs.Where(o => t.Contains(o.Name) && o.ElementType is ElementType.Float or ElementType.Undefined).Select(o => o.Name).ToArray();
        if (shared.Length == 0) throw new UnsupportedModelException($"The student and the teacher share no float output by name (student: {string.Join(", ", s)}; teacher: {string.Join(", ", t)}); name them with Outputs.");
        return shared;
    }

    /// <summary>
    /// <paramref name="data"/> with the teacher's output <c>o</c> as the target named <c>o</c>, for each of
    /// <paramref name="outputs"/> (the teacher runs once over the data, batch-free when its batch is fixed).
    /// </summary>
    public static TensorDataset WithTeacherTargets(OnnxModel teacher, TensorDataset data, IReadOnlyList<string> outputs, int batchSize = 16,
        SessionSettings? sessionSettings = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(outputs);
        var (model, batch) = Evaluator.ForEvaluation(teacher, batchSize);
        using var session = OrtSessions.Create(model, sessionSettings ?? new SessionSettings { AllowSpinning = false });
        var inputs = model.Graph.DataInputs.Select(v => v.Name).ToArray();
        var parts = outputs.ToDictionary(o => o, _ => new List<Tensor>(), StringComparer.Ordinal);
        for (int start = 0; start < data.Count; start += batch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var indices = Enumerable.Range(start, Math.Min(batch, data.Count - start)).ToArray();
            var results = session.RunTensors(data.GetBatch(indices).InputsFor(inputs), outputs.ToArray());
            foreach (var o in outputs)
            {
                var r = results[o];
                if (r.ElementType != ElementType.Float) throw new UnsupportedModelException($"The teacher's output '{o}' is {r}; only float32 outputs are distilled.");
                parts[o].Add(r);
            }
        }
        var result = data;
        foreach (var (name, list) in parts) result = result.WithTarget(name, Concat(list));
        return result;
    }

    /// <summary>One loss per distilled output: temperature KL for logits [B, K], mean squared error otherwise (each weight 1).</summary>
    public static LossOptions[] Losses(TensorDataset withTargets, IReadOnlyList<string> outputs, float temperature = 4f)
    {
        ArgumentNullException.ThrowIfNull(withTargets);
        return outputs.Select(o => withTargets.Targets[o].Rank == 2
            ? new LossOptions { Kind = LossKind.KLDivergence, Output = o, Target = o, Temperature = temperature }
            : LossOptions.MeanSquared(o, o)).ToArray();
    }

    /// <summary>The mean squared gap between <paramref name="student"/>'s outputs and the teacher targets of <paramref name="withTargets"/>.</summary>
    public static DistillationGap Gap(OnnxModel student, TensorDataset withTargets, IReadOnlyList<string> outputs, int batchSize = 16,
        SessionSettings? sessionSettings = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(student);
        var (model, batch) = Evaluator.ForEvaluation(student, batchSize);
        var result = Evaluator.Evaluate(model, withTargets, outputs.Select(o => LossOptions.MeanSquared(o, o)).ToArray(), batch,
            sessionSettings ?? new SessionSettings { AllowSpinning = false }, cancellationToken);
        var perOutput = result.Heads!.ToDictionary(h => h.Output, h => h.Loss, StringComparer.Ordinal);
        return new DistillationGap(perOutput.Values.Average(), perOutput, withTargets.Count);
    }

    private static Tensor Concat(List<Tensor> parts)
    {
        if (parts.Count == 1) return parts[0];
        var shape = parts[0].Shape.ToArray();
        shape[0] = parts.Sum(p => p.Shape[0]);
        var data = new float[parts.Sum(p => p.ElementCount)];
        long offset = 0;
        foreach (var p in parts)
        {
            p.AsSpan<float>().CopyTo(data.AsSpan((int)offset));
            offset += p.ElementCount;
        }
        return Tensor.FromArray<float>(data, shape);
    }
}
