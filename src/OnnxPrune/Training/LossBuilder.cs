using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Training;

/// <summary>Emits a loss over the model output, its gradient with respect to that output, and the accuracy count.</summary>
internal static class LossBuilder
{
    public sealed record Result(Value Loss, Value OutputGradient, Value? Correct, string TargetInput, string? TeacherInput);

    public static Result Emit(GradientContext c, Value z, long[] zShape, LossOptions options, int batch)
    {
        var g = c.Builder.Graph;
        long numel = zShape.Aggregate(1L, (a, b) => a * b);
        Value SumAll(Value v) => c.Op("ReduceSum", [v], ("keepdims", 0L));
        switch (options.Kind)
        {
            case LossKind.SoftmaxCrossEntropy:
            {
                if (zShape.Length != 2) throw new UnsupportedModelException($"Cross-entropy expects logits [B, K]; output '{z.Name}' is {Tensor.FormatShape(zShape)}.");
                long k = zShape[1];
                var labels = g.AddInput(g.UniqueName("labels"), ElementType.Int64, [new Dim(batch)]);
                float eps = options.LabelSmoothing;
                if (eps is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(options), eps, "Label smoothing must be in [0, 1).");
                float off = eps / k, on = 1f - eps + eps / k;
                var target = c.Op("OneHot", [labels, c.Builder.Initializer("depth", Tensor.Scalar(k)), c.Builder.Initializer("onehot_values", Tensor.FromArray<float>([off, on], 2))], ("axis", -1L));
                var logp = c.Op("LogSoftmax", [z], ("axis", 1L));
                var loss = c.Mul(SumAll(c.Mul(target, logp)), -1f / batch);
                var dz = c.Mul(c.Sub(c.Op("Exp", [logp]), target), 1f / batch);
                string? teacherName = null;
                float w = options.DistillationWeight;
                if (w > 0)
                {
                    if (w > 1) throw new ArgumentOutOfRangeException(nameof(options), w, "Distillation weight must be in [0, 1].");
                    float t = options.Temperature;
                    if (t <= 0) throw new ArgumentOutOfRangeException(nameof(options), t, "Temperature must be positive.");
                    var teacher = g.AddInput(g.UniqueName("teacher_logits"), ElementType.Float, zShape.Select(d => new Dim(d)).ToArray());
                    teacherName = teacher.Name;
                    var lt = c.Op("LogSoftmax", [c.Mul(teacher, 1f / t)], ("axis", 1L));
                    var pt = c.Op("Exp", [lt]);
                    var lq = c.Op("LogSoftmax", [c.Mul(z, 1f / t)], ("axis", 1L));
                    var kl = c.Mul(SumAll(c.Mul(pt, c.Sub(lt, lq))), 1f / batch);
                    loss = c.Add(c.Mul(loss, 1f - w), c.Mul(kl, w * t * t));
                    var dkd = c.Mul(c.Sub(c.Op("Exp", [lq]), pt), w * t / batch);
                    dz = c.Add(c.Mul(dz, 1f - w), dkd);
                }
                var argmax = c.Op("ArgMax", [z], ("axis", 1L), ("keepdims", 0L));
                var correct = SumAll(c.ToFloat(c.Op("Equal", [argmax, labels])));
                return new Result(loss, dz, correct, labels.Name, teacherName);
            }
            case LossKind.KLDivergence:
            {
                if (zShape.Length != 2) throw new UnsupportedModelException($"KL distillation expects logits [B, K]; output '{z.Name}' is {Tensor.FormatShape(zShape)}.");
                float t = options.Temperature;
                if (t <= 0) throw new ArgumentOutOfRangeException(nameof(options), t, "Temperature must be positive.");
                var teacher = g.AddInput(g.UniqueName("targets"), ElementType.Float, zShape.Select(d => new Dim(d)).ToArray());
                var lt = c.Op("LogSoftmax", [c.Mul(teacher, 1f / t)], ("axis", 1L));
                var pt = c.Op("Exp", [lt]);
                var lq = c.Op("LogSoftmax", [c.Mul(z, 1f / t)], ("axis", 1L));
                var loss = c.Mul(SumAll(c.Mul(pt, c.Sub(lt, lq))), t * t / batch);
                var dz = c.Mul(c.Sub(c.Op("Exp", [lq]), pt), t / batch);
                return new Result(loss, dz, null, teacher.Name, null);
            }
            case LossKind.MeanSquaredError:
            case LossKind.L1:
            case LossKind.BinaryCrossEntropy:
            {
                if (options.DistillationWeight > 0) throw new ArgumentException("Distillation applies to the cross-entropy loss only.", nameof(options));
                var y = g.AddInput(g.UniqueName("targets"), ElementType.Float, zShape.Select(d => new Dim(d)).ToArray());
                Value loss, dz;
                if (options.Kind == LossKind.MeanSquaredError)
                {
                    var diff = c.Sub(z, y);
                    loss = c.Mul(SumAll(c.Mul(diff, diff)), 1f / numel);
                    dz = c.Mul(diff, 2f / numel);
                }
                else if (options.Kind == LossKind.L1)
                {
                    var diff = c.Sub(z, y);
                    loss = c.Mul(SumAll(c.Op("Abs", [diff])), 1f / numel);
                    dz = c.Mul(c.Op("Sign", [diff]), 1f / numel);
                }
                else
                {
                    loss = c.Mul(SumAll(c.Sub(c.Op("Softplus", [z]), c.Mul(y, z))), 1f / numel);
                    dz = c.Mul(c.Sub(c.Op("Sigmoid", [z]), y), 1f / numel);
                }
                return new Result(loss, dz, null, y.Name, null);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(options), options.Kind, "Unknown loss.");
        }
    }
}
