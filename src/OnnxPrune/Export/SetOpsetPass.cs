using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Graph.Passes;

namespace OnnxPrune.Export;

/// <summary>
/// Declares the default-domain opset <c>export --opset N</c> asks for, rewriting older ops to their current form with
/// <see cref="OpsetUpgradePass"/> (opset 7–15 → 16) where needed.
/// </summary>
/// <remarks>
/// <b>Preconditions</b> (checked before anything is edited; else <see cref="UnsupportedModelException"/>): the target
/// is 16 or 17 and not below the model's opset. Downgrades are refused (ops would need their older forms back), and so
/// are targets of 18 and later: opset 18 moved the axes of the Reduce family, Pad and Split's sizes into inputs and
/// changed Resize, which this pass does not rewrite. 16 → 17 only adds new ops (LayerNormalization, the window and
/// DFT ops), so the declaration alone is exact. No BatchNormalization of opset &lt; 14 declares its statistics outputs
/// (ONNX Runtime then normalizes with batch statistics, which the upgraded form would not). Also every precondition of <see cref="OpsetUpgradePass"/> for a model
/// below 16: the shapes of Softmax-family inputs come from static shape inference, so a Softmax over a tensor of rank
/// &gt; 2 with symbolic dims (e.g. a dynamic batch) at opset &lt; 13 is refused, naming the node.
/// <b>Guarantee</b>: outputs equal to float rounding (as <see cref="OpsetUpgradePass"/>; a rank &gt; 2 Softmax-family
/// graph output of an opset &lt; 13 model is renamed <c>NAME_restored</c>); a model already at the target is unchanged.
/// </remarks>
public sealed class SetOpsetPass : IGraphPass
{
    /// <summary>The newest opset this pass can declare.</summary>
    public const int MaximumTarget = 17;

    /// <summary>Creates the pass for <paramref name="target"/>.</summary>
    public SetOpsetPass(int target) => Target = target;

    /// <summary>The opset declared.</summary>
    public int Target { get; }

    /// <inheritdoc/>
    public string Name => "opset";

    /// <inheritdoc/>
    public PassResult Run(OnnxModel model, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        long opset = model.GetOpset("");
        string file = model.SourcePath ?? "the model";
        if (Target < opset)
            throw new UnsupportedModelException($"{file} imports opset {opset}; --opset {Target} would need a downgrade, which is not supported.");
        if (Target > MaximumTarget)
            throw new UnsupportedModelException($"--opset {Target}: opsets above {MaximumTarget} are not supported yet (opset 18 moved Reduce/Pad/Split attributes into inputs).");
        if (Target < OpsetUpgradePass.TargetOpset && Target != opset)
            throw new UnsupportedModelException($"--opset {Target}: {file} imports opset {opset}; upgrades go to {OpsetUpgradePass.TargetOpset} or {MaximumTarget}.");
        if (Target == opset) return PassResult.Of(Name, 0);
        // ONNX Runtime runs an old BatchNormalization that declares its statistics outputs with batch statistics; the
        // upgrade drops those outputs, which would change the outputs: block it with the reason.
        if (opset < 14 && model.Graph.Nodes.FirstOrDefault(n => n.OpType == "BatchNormalization" && n.OutputList.Skip(1).Any(o => o is not null)) is { } bn)
            throw new UnsupportedModelException($"{file}: node {bn.DisplayName} (BatchNormalization, opset {opset}) declares its training statistics outputs, so ONNX Runtime normalizes with batch statistics; upgrading would drop them and change the outputs.");
        var notes = new List<string>();
        int changes = 0;
        if (opset < OpsetUpgradePass.TargetOpset)
        {
            var shapes = new Lazy<ShapeInfo>(() => ShapeInference.Infer(model.Graph, opset));
            long[]? ShapeOf(Value v) => v.Constant?.Shape.ToArray()
                ?? (shapes.Value[v].Shape is { } s && s.All(d => d.Value.HasValue) ? s.Select(d => d.Value!.Value).ToArray() : null);
            var upgrade = new OpsetUpgradePass(ShapeOf).Run(model, cancellationToken);
            changes += upgrade.Changes;
            notes.AddRange(upgrade.Notes);
        }
        long now = model.GetOpset("");
        if (now != Target)
        {
            model.SetOpset("", Target);
            changes++;
            notes.Add($"opset {now} → {Target} (declaration only: {now}..{Target} changed no existing op)");
        }
        return new PassResult(Name, changes, notes);
    }
}
