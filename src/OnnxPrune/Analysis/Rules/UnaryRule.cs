using OnnxPrune.Tensors;

namespace OnnxPrune.Analysis.Rules;

/// <summary>Elementwise ops of one tensor (activations, Identity, Dropout, Clip, Cast): every axis couples to the
/// output. Each op here maps 0 to a finite value, which the masked-reference oracle relies on.</summary>
public sealed class UnaryRule : OpRule
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> OpTypes { get; } =
    [
        "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Erf", "Gelu", "Elu", "Selu", "Celu",
        "Softplus", "Softsign", "Mish", "ThresholdedRelu", "Exp", "Neg", "Abs", "Sqrt", "Floor", "Ceil", "Round",
        "Sign", "Sin", "Cos", "Identity", "Dropout", "Clip", "Cast", "Not", "IsNaN",
    ];

    /// <inheritdoc/>
    public override void InferShapes(ShapeContext ctx)
    {
        var x = ctx.Input(0);
        var type = ctx.Node.OpType switch
        {
            "Cast" => (ElementType)ctx.Node.Attributes.GetInt("to", (long)x.ElementType),
            "IsNaN" => ElementType.Bool,
            _ => x.ElementType,
        };
        // Identity and integer Casts keep the tracked elements of shape computations.
        var keep = ctx.Node.OpType is "Identity" or "Cast" && type is ElementType.Int64 or ElementType.Int32 ? x.Elements : null;
        ctx.SetOutput(0, type, x.Shape, keep);
        // Dropout's mask is bool from opset 10; before, it has the input's type.
        if (ctx.Node.OpType == "Dropout") ctx.SetOutput(1, ctx.Opset >= 10 ? ElementType.Bool : x.ElementType, x.Shape);
    }

    /// <inheritdoc/>
    public override void Couple(CouplingContext ctx)
    {
        var x = ctx.In(0)!;
        ctx.SameAll(x, ctx.Out(0)!);
        if (ctx.Node.OpType == "Dropout" && ctx.Out(1) is { } mask) ctx.SameAll(x, mask);
        RuleHelpers.AcknowledgeInputs(ctx, 1); // Clip min/max, Dropout ratio/training_mode: scalars
    }
}
