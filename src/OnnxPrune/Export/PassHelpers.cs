using OnnxPrune.Graph;
using OnnxPrune.Tensors;

namespace OnnxPrune.Export;

/// <summary>Small graph-editing helpers shared by the export passes (no pass logic here).</summary>
internal static class PassHelpers
{
    /// <summary>The float32 data of a constant value, or null when the value is not a float32 constant.</summary>
    public static float[]? FloatConstant(Value? value) =>
        value?.Constant is { ElementType: ElementType.Float } c ? c.Data.ToFloatArray() : null;

    /// <summary>True when the node is a standard-domain node of one of <paramref name="opTypes"/>.</summary>
    public static bool Is(Node? node, params string[] opTypes) => node is { IsStandard: true } && opTypes.Contains(node.OpType);

    /// <summary>Adds an initializer under a unique name derived from <paramref name="hint"/>.</summary>
    public static Value AddInitializer(Graph.Graph graph, string hint, Tensor data) =>
        graph.AddInitializer(graph.UniqueName(hint), data).Value;

    /// <summary>Removes initializers that nobody reads any more (those a pass orphaned).</summary>
    public static void DropUnusedInitializers(Graph.Graph graph, IEnumerable<Value?> candidates)
    {
        foreach (var v in candidates.Distinct())
            if (v?.Initializer is { } init && v.Consumers.Count == 0 && !v.IsGraphOutput && graph.Initializers.Contains(init))
                graph.RemoveInitializer(init);
    }

    /// <summary>Removes a single-input pass-through node (<c>y = f(x)</c> with y ≡ x), rewiring readers of y to x. When y is
    /// a graph output it keeps its name: x's producer takes over y (needs x to be a node output read by nobody else).</summary>
    /// <returns>False when the node cannot be removed without renaming a graph output.</returns>
    public static bool Bypass(Graph.Graph graph, Node node, Value x, Value y)
    {
        if (!y.IsGraphOutput)
        {
            graph.ReplaceAllUses(y, x);
            graph.RemoveNode(node, force: true);
            return true;
        }
        // y is a graph output: let x's producer write y instead, keeping the output's name.
        if (x.Producer is not { } producer || x.IsGraphOutput || x.Consumers.Any(c => c != node)) return false;
        int index = producer.Outputs.ToList().IndexOf(x);
        graph.SwapOutputs(producer, index, node, node.Outputs.ToList().IndexOf(y));
        graph.RemoveNode(node, force: true);
        return true;
    }

    /// <summary>The opset the model imports for the default domain (17 when it declares none).</summary>
    public static long Opset(OnnxModel model) => model.GetOpset("") is var o && o > 0 ? o : 17;
}
