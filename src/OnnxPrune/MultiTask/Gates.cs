using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.MultiTask;

/// <summary>One gate: a constant of ones multiplied into an activation along one axis (one element per position).</summary>
/// <param name="Name">The gate constant's name (a trainable initializer of the gated model).</param>
/// <param name="Value">The gated activation.</param>
/// <param name="Axis">The gated axis.</param>
/// <param name="Length">Positions on that axis.</param>
public sealed record Gate(string Name, string Value, int Axis, long Length);

/// <summary>Where one group's units meet a gate: the gate and the positions of each unit on it.</summary>
/// <param name="Gate">The gate.</param>
/// <param name="Map">Unit → positions on the gated axis.</param>
public sealed record GateUse(Gate Gate, IndexMap Map);

/// <summary>
/// Per-unit multiplier gates (value 1) on the activations where each group's channels leave the group, in a copy of a model.
/// Differentiating the loss with respect to a gate g gives the first-order effect of scaling those channels: removing a unit
/// sets every gate position of it to 0, so Σ g·∂L/∂g over its positions estimates the loss change of removing it.
/// </summary>
/// <remarks>
/// A group's activations are its <see cref="GroupItemKind.ValueDim"/> items. The gated ones are the <em>exits</em>: activations
/// read by a node none of whose outputs is an activation of the same group (the next conv, a head's pooling, an output). Zeroing
/// every exit position of a unit is what pruning it does to the rest of the network, so gates inside a chain (conv → BN → ReLU)
/// are not needed. Graph inputs, graph outputs and constants are never gated. An activation shared by several groups (e.g. a
/// Concat) gets one gate; each group reads its own positions. The gated model computes exactly what the original does.
/// </remarks>
public sealed class GatedModel
{
    /// <summary>Prefix of every gate constant's name.</summary>
    public const string GatePrefix = "onnxprune_gate.";

    private GatedModel(OnnxModel model, IReadOnlyList<Gate> gates, IReadOnlyDictionary<int, IReadOnlyList<GateUse>> uses)
    {
        Model = model;
        Gates = gates;
        Uses = uses;
    }

    /// <summary>The gated copy (the original model is not touched).</summary>
    public OnnxModel Model { get; }

    /// <summary>Every gate.</summary>
    public IReadOnlyList<Gate> Gates { get; }

    /// <summary>Group id → the gates its units meet (groups with no gated exit are absent).</summary>
    public IReadOnlyDictionary<int, IReadOnlyList<GateUse>> Uses { get; }

    /// <summary>Inserts gates for the non-blocked <paramref name="groups"/> of <paramref name="model"/> into a copy.</summary>
    /// <param name="model">The model (not modified).</param>
    /// <param name="groups">Its groups (from the dependency analyser).</param>
    /// <param name="shapes">Its inferred shapes (the gated axis' length and the activation's rank must be known).</param>
    public static GatedModel Insert(OnnxModel model, IReadOnlyList<PruningGroup> groups, ShapeInfo shapes)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(shapes);
        var copy = OnnxModel.FromBytes(model.ToBytes(), model.SourcePath ?? "model");
        var graph = copy.Graph;
        var gates = new Dictionary<(string Value, int Axis), (Gate Gate, HashSet<Node> Readers)>();
        var uses = new Dictionary<int, IReadOnlyList<GateUse>>();
        foreach (var group in groups)
        {
            if (group.IsBlocked) continue;
            var activations = group.Items.OfType<ValueDimItem>().ToList();
            var inGroup = activations.Select(i => i.Value.Name).ToHashSet(StringComparer.Ordinal);
            var list = new List<GateUse>();
            foreach (var item in activations)
            {
                var v = item.Value;
                if (v.IsGraphInput || v.IsGraphOutput || v.Constant is not null) continue;
                var exits = v.Consumers.Where(c => !c.Outputs.Any(o => o is not null && inGroup.Contains(o.Name))).Distinct().ToList();
                if (exits.Count == 0) continue;
                var info = shapes[v];
                if (info.Rank <= item.Axis || info.Size(item.Axis) is not { } length) continue;
                var key = (v.Name, item.Axis);
                if (!gates.TryGetValue(key, out var gate))
                {
                    var shape = Enumerable.Repeat(1L, info.Rank).ToArray();
                    shape[item.Axis] = length;
                    var ones = new float[length];
                    Array.Fill(ones, 1f);
                    var name = graph.UniqueName(GatePrefix + v.Name + "." + item.Axis);
                    graph.AddInitializer(name, Tensor.FromArray<float>(ones, shape));
                    gate = (new Gate(name, v.Name, item.Axis, length), new HashSet<Node>());
                    gates[key] = gate;
                }
                foreach (var exit in exits) gate.Readers.Add(graph.GetValue(exit.Outputs.First(o => o is not null)!.Name).Producer!);
                list.Add(new GateUse(gate.Gate, item.Map));
            }
            if (list.Count > 0) uses[group.Id] = list;
        }
        foreach (var ((valueName, _), (gate, readers)) in gates)
        {
            var v = graph.GetValue(valueName);
            var gated = graph.AddNode("Mul", [v, graph.GetValue(gate.Name)], [graph.UniqueName(valueName + ".gated")], gate.Name + ".mul").Output(0)!;
            foreach (var reader in readers)
                for (int i = 0; i < reader.Inputs.Count; i++)
                    if (reader.Inputs[i] == v) graph.SetInput(reader, i, gated);
        }
        graph.TopologicalSort();
        return new GatedModel(copy, gates.Values.Select(g => g.Gate).ToArray(), uses);
    }

    /// <summary>
    /// Removes every gate (its Mul node and constant) from <paramref name="model"/> in place, rewiring the readers to the
    /// ungated activation; the gates' values are not folded in (pruning decides from them, it does not keep them).
    /// </summary>
    /// <returns>The number of gates removed.</returns>
    public static int Remove(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph;
        int removed = 0;
        foreach (var mul in graph.Nodes.Where(n => n.OpType == "Mul" && n.Inputs.Count == 2 && n.Inputs[1]?.Name.StartsWith(GatePrefix, StringComparison.Ordinal) == true).ToList())
        {
            var source = mul.Inputs[0]!;
            var gated = mul.Outputs[0]!;
            var constant = mul.Inputs[1]!;
            graph.ReplaceAllUses(gated, source);
            graph.RemoveNode(mul);
            if (constant.Initializer is { } init && constant.Consumers.Count == 0) graph.RemoveInitializer(init);
            removed++;
        }
        graph.TopologicalSort();
        return removed;
    }
}
