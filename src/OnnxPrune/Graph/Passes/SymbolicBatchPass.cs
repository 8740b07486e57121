using OnnxPrune.Tensors;

namespace OnnxPrune.Graph.Passes;

/// <summary>
/// Makes a fixed-batch export batch-free: the leading dim of every data input (and of every output that had the same
/// fixed size) becomes the symbolic dim <see cref="DimName"/>, and each Reshape whose constant target hard-codes the batch
/// in its first entry gets a copy of that target with 0 (copy the input's leading dim) or −1 (infer it) there.
/// </summary>
/// <remarks>
/// <b>Preconditions:</b> every data input with a fixed leading dim has the same one (N); each Reshape whose constant
/// target starts with N either reads a value whose declared leading dim is N (the target's N becomes 0, exact: at batch N
/// it copies N, at batch B it copies B), or has no other −1 and no <c>allowzero</c> (N becomes −1, exact: the other dims
/// are constant). A Reshape that meets neither throws <see cref="UnsupportedModelException"/> naming it, before anything
/// is edited, and so does a Resize whose constant sizes hard-code the batch. Declare the intermediates' shapes first (e.g. the shape engine's <c>ShapeInfo.WriteTo</c>) so the first
/// form applies. <b>Guarantee:</b> at batch N every output is bit-identical; inputs, outputs and initializers keep their
/// names (a shared target is copied, not edited); intermediate value_info shapes are dropped (they held N). Other
/// constants that hard-code the batch (Expand or Tile shapes, ConstantOfShape) are not rewritten: a model with those
/// still runs at batch N only, and ONNX Runtime names the node when it is fed another batch.
/// </remarks>
public sealed class SymbolicBatchPass : IGraphPass
{
    /// <summary>The pass with the symbolic dim named <paramref name="dimName"/>.</summary>
    public SymbolicBatchPass(string dimName = "batch") => DimName = dimName;

    /// <summary>The name of the symbolic batch dim written into the inputs and outputs.</summary>
    public string DimName { get; }

    /// <inheritdoc/>
    public string Name => "symbolic-batch";

    /// <summary>The fixed leading dim the data inputs share, or null when none has a fixed one.</summary>
    /// <exception cref="UnsupportedModelException">Two data inputs have different fixed leading dims.</exception>
    public static long? FixedBatch(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        long? batch = null;
        string? first = null;
        foreach (var input in model.Graph.DataInputs)
        {
            if (input.Shape is not { Count: > 0 } shape || shape[0].Value is not long n) continue;
            if (batch is long b && b != n)
                throw new UnsupportedModelException($"Inputs '{first}' and '{input.Name}' have different fixed batch sizes ({b} and {n}); cannot make the batch symbolic.");
            batch = n;
            first ??= input.Name;
        }
        return batch;
    }

    /// <inheritdoc/>
    public PassResult Run(OnnxModel model, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var g = model.Graph;
        if (FixedBatch(model) is not long n) return PassResult.Of(Name, 0);

        // Plan every rewrite before editing anything.
        var rewrites = new List<(Node Node, Tensor Target, string How)>();
        foreach (var node in g.Nodes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!node.IsStandard) continue;
            if (node.OpType == "Resize" && node.Input(3) is { Constant: { } sizes } && sizes.Data.ToInt64Array() is { Length: > 0 } s && s[0] == n)
                throw new UnsupportedModelException(
                    $"Resize node {node.DisplayName} hard-codes the batch {n} in its constant sizes [{string.Join(", ", s)}]; no exact batch-free rewrite exists " +
                    "(train at batch " + n + " or export the model with a dynamic batch).");
            if (node.OpType != "Reshape") continue;
            if (node.Input(1)?.Constant is not { } c) continue;
            var target = c.Data.ToInt64Array();
            if (target.Length == 0 || target[0] != n) continue;
            bool allowZero = node.Attributes.GetInt("allowzero", 0) != 0;
            var inputShape = node.Input(0)?.Shape;
            var rewritten = (long[])target.Clone();
            string how;
            if (!allowZero && inputShape is { Count: > 0 } && inputShape[0].Value == n) { rewritten[0] = 0; how = "0"; }
            else if (!target.Skip(1).Contains(-1) && !(allowZero && target.Contains(0))) { rewritten[0] = -1; how = "-1"; }
            else
                throw new UnsupportedModelException(
                    $"Reshape node {node.DisplayName} hard-codes the batch {n} in its target [{string.Join(", ", target)}], and neither 0 (its input's " +
                    "leading dim is not known to be the batch) nor −1 (the target already has one) is exact; export the model with a dynamic batch.");
            rewrites.Add((node, Tensor.FromArray<long>(rewritten, rewritten.Length), how));
        }

        var notes = new List<string>();
        int changes = 0;
        foreach (var (node, target, how) in rewrites)
        {
            var old = node.Input(1)!;
            var copy = g.AddInitializer(g.UniqueName(old.Name + "_batch_free"), target);
            g.SetInput(node, 1, copy.Value);
            if (old.Consumers.Count == 0 && !old.IsGraphOutput)
            {
                if (old.Initializer is { } init && !old.IsGraphInput) g.RemoveInitializer(init);
                else if (old.Producer is { ConstantOutput: not null } producer) g.RemoveNode(producer);
            }
            notes.Add($"Reshape {node.DisplayName}: leading {n} → {how}");
            changes++;
        }
        var symbolic = new Dim(DimName);
        foreach (var input in g.DataInputs)
            if (input.Shape is { Count: > 0 } s && s[0].Value == n) { input.Shape = [symbolic, .. s.Skip(1)]; changes++; }
        foreach (var output in g.Outputs)
            if (output.Shape is { Count: > 0 } s && s[0].Value == n) { output.Shape = [symbolic, .. s.Skip(1)]; changes++; }
        foreach (var value in g.Values)
            if (!value.IsGraphInput && !value.IsGraphOutput && value.Initializer is null && value.Producer?.ConstantOutput is null && value.HasType && value.Shape is not null)
                value.Shape = null;
        notes.Insert(0, $"batch {n} → '{DimName}'");
        return new PassResult(Name, changes, notes);
    }
}
