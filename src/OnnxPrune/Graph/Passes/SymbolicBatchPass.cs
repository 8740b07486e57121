using OnnxPrune.Tensors;

namespace OnnxPrune.Graph.Passes;

/// <summary>
/// Makes a fixed-batch export batch-free: the leading dim of every data input (and of every output that had the same
/// fixed size) becomes the symbolic dim <see cref="DimName"/>; each Reshape whose constant target hard-codes the batch
/// in its first entry gets a copy of that target with 0 (copy the input's leading dim) or −1 (infer it) there; and each
/// Expand shape, Tile repeats or ConstantOfShape shape that hard-codes it gets the batch read at run time instead
/// (<c>Concat(Gather(Shape(input), [0]), rest)</c>).
/// </summary>
/// <remarks>
/// <b>Preconditions:</b> every data input with a fixed leading dim has the same one (N); each Reshape whose constant
/// target starts with N either reads a value whose declared leading dim is N (the target's N becomes 0, exact: at batch N
/// it copies N, at batch B it copies B), or has no other −1 and no <c>allowzero</c> (N becomes −1, exact: the other dims
/// are constant). A leading N in a constant Expand shape or ConstantOfShape shape of at least two elements is taken to be
/// the batch: it becomes the run-time batch unless (Expand, N = 1) the expanded value already carries the batch, where 1
/// broadcasts and nothing changes. Tile repeats starting with N: when the tiled value carries the batch, N = 1 is left as
/// it is and N &gt; 1 is refused (repeating the batch is not a batch-free computation); when it does not (a constant),
/// its leading dim must be 1 and the repeat becomes the run-time batch. A value "carries the batch" when it is computed
/// from a data input or from a rewritten node (nodes are read in stored order, which ONNX requires to be topological). A Reshape, Tile or Resize (constant sizes) that meets none of these throws
/// <see cref="UnsupportedModelException"/> naming it, before anything is edited. Declare the intermediates' shapes first
/// (e.g. the shape engine's <c>ShapeInfo.WriteTo</c>) so the first Reshape form applies and Expand knows its input's rank.
/// <b>Guarantee:</b> at batch N every output is bit-identical; inputs, outputs and initializers keep their names (a
/// shared target is copied, not edited); intermediate value_info shapes are dropped (they held N).
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
        var runTime = new List<(Node Node, int Input, long[] Tail, string How)>();
        var carriesBatch = new HashSet<Value>(g.DataInputs);
        foreach (var node in g.Nodes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            bool fromBatch = node.Inputs.Concat(node.ImplicitInputs).Any(v => v is not null && carriesBatch.Contains(v));
            if (node.IsStandard && RunTimeBatch(node, n, fromBatch) is { } plan)
            {
                runTime.Add((node, plan.Input, plan.Tail, plan.How));
                fromBatch = true;
            }
            if (fromBatch) foreach (var o in node.Outputs) if (o is not null) carriesBatch.Add(o);
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
            RemoveIfUnused(g, old);
            notes.Add($"Reshape {node.DisplayName}: leading {n} → {how}");
            changes++;
        }
        if (runTime.Count > 0)
        {
            // One run-time batch vector [B] = Gather(Shape(first batched input), [0]) at the top of the graph.
            var source = g.DataInputs.First(i => i.Shape is { Count: > 0 } s && s[0].Value == n);
            var shape = g.AddNode("Shape", [source], [g.UniqueName("batch_free_shape")], index: 0).Output(0)!;
            var zero = g.AddInitializer(g.UniqueName("batch_free_index"), Tensor.FromArray<long>([0], 1)).Value;
            var gather = g.AddNode("Gather", [shape, zero], [g.UniqueName("batch_free_batch")], index: 1);
            gather.Attributes.Set("axis", 0L);
            var batch = gather.Output(0)!;
            foreach (var (node, input, rest, how) in runTime)
            {
                var old = node.Input(input)!;
                Value value = batch;
                if (rest.Length > 0)
                {
                    var tail = g.AddInitializer(g.UniqueName(old.Name + "_batch_free_rest"), Tensor.FromArray<long>(rest, rest.Length)).Value;
                    var concat = g.AddNode("Concat", [batch, tail], [g.UniqueName(old.Name + "_batch_free")], index: g.Nodes.ToList().IndexOf(node));
                    concat.Attributes.Set("axis", 0L);
                    value = concat.Output(0)!;
                }
                g.SetInput(node, input, value);
                RemoveIfUnused(g, old);
                notes.Add($"{node.OpType} {node.DisplayName}: {how}");
                changes++;
            }
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

    // Expand / Tile / ConstantOfShape whose constant shape (repeats) starts with the fixed batch n: the input index to
    // replace with [run-time batch, rest...], or null when the node needs nothing; throws when no exact rewrite exists.
    private static (int Input, long[] Tail, string How)? RunTimeBatch(Node node, long n, bool fromBatch)
    {
        int index = node.OpType switch { "Expand" or "Tile" => 1, "ConstantOfShape" => 0, _ => -1 };
        if (index < 0 || node.Input(index)?.Constant is not { } c || c.ElementType != ElementType.Int64 || c.Shape.Count != 1) return null;
        var values = c.Data.ToInt64Array();
        if (values.Length == 0 || values[0] != n) return null;
        var rest = values.Skip(1).ToArray();
        var label = $"[{string.Join(", ", values)}]";
        switch (node.OpType)
        {
            case "ConstantOfShape":
                return values.Length < 2 ? null : (index, rest, $"shape {label}: leading {n} → the run-time batch");
            case "Expand":
            {
                if (values.Length < 2 || (n == 1 && fromBatch)) return null;
                // The shape's first element lines up with the output's axis 0 only when the shape is at least the input's rank.
                if (node.Input(0)?.Shape is not { } inShape)
                    throw new UnsupportedModelException(
                        $"Expand node {node.DisplayName} hard-codes the batch {n} in its shape {label}, but its input's rank is unknown; declare the intermediates' shapes first.");
                return inShape.Count > values.Length ? null : (index, rest, $"shape {label}: leading {n} → the run-time batch");
            }
            default: // Tile
            {
                if (fromBatch)
                {
                    if (n == 1) return null;
                    throw new UnsupportedModelException(
                        $"Tile node {node.DisplayName} repeats a batched value {n} times along the batch axis (repeats {label}); that is not a batch-free computation.");
                }
                if (node.Input(0)?.Shape is not { Count: > 0 } inShape || inShape[0].Value != 1)
                    throw new UnsupportedModelException(
                        $"Tile node {node.DisplayName} hard-codes the batch {n} in its repeats {label}, but its input's leading dim is not known to be 1; " +
                        "export the model with a dynamic batch.");
                return (index, rest, $"repeats {label}: leading {n} → the run-time batch");
            }
        }
    }

    private static void RemoveIfUnused(Graph g, Value old)
    {
        if (old.Consumers.Count != 0 || old.IsGraphOutput) return;
        if (old.Initializer is { } init && !old.IsGraphInput) g.RemoveInitializer(init);
        else if (old.Producer is { ConstantOutput: not null } producer) g.RemoveNode(producer);
    }
}
