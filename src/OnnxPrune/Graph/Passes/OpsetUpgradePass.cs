using OnnxPrune.Tensors;

namespace OnnxPrune.Graph.Passes;

/// <summary>
/// Rewrites a model's default-domain ops from an older opset (7–12) to their opset-13 form and declares opset
/// <see cref="TargetOpset"/> (16: no op the trainer handles changed meaning between 13 and 16; 16 adds the scatter
/// reductions that overlapping MaxPool's and repeated-index Gather's gradients need); opset 13–15 models only get the new
/// declaration (and RoiAlign's old default coordinate mode pinned). Attributes that became inputs (Clip, Pad,
/// Squeeze/Unsqueeze, Split, ReduceSum, Slice, Dropout, Upsample/Resize) are moved, removed attributes dropped
/// (BatchNormalization's spatial), and Softmax/LogSoftmax/Hardmax on tensors of rank &gt; 2 get their old "flatten to
/// 2-D" semantics made explicit. Training runs it on its private copy; the exported model keeps its own opset.
/// </summary>
/// <remarks>
/// <b>Preconditions</b> (all checked before anything is edited; else <see cref="UnsupportedModelException"/> naming the
/// node): opset ≥ 7; no Add/Sub/Mul/Div with the pre-opset-7 <c>broadcast</c> attribute; every opset &lt; 11 Pad has
/// pads; the input shape of every Softmax/LogSoftmax/Hardmax is known (from the shape function given to the
/// constructor); BatchNormalization's training outputs (opset ≤ 9) are unused. <b>Guarantee:</b> graph inputs are
/// unchanged and outputs keep their order and values up to float rounding (the Softmax reshape is exact); a
/// Softmax-family output of rank &gt; 2 that is itself a graph output is renamed <c>NAME_restored</c> (the reshape
/// back produces it); nodes are topologically sorted afterwards.
/// </remarks>
public sealed class OpsetUpgradePass : IGraphPass
{
    /// <summary>The opset written.</summary>
    public const int TargetOpset = 16;

    private readonly Func<Value, long[]?> _shapeOf;

    /// <summary>Creates the pass.</summary>
    /// <param name="shapeOf">Concrete shapes of values (needed for Softmax-family nodes of opset &lt; 13); null: none known.</param>
    public OpsetUpgradePass(Func<Value, long[]?>? shapeOf = null) => _shapeOf = shapeOf ?? (v => v.Constant?.Shape.ToArray());

    /// <inheritdoc/>
    public string Name => "opset-upgrade";

    /// <inheritdoc/>
    public PassResult Run(OnnxModel model, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        long opset = model.GetOpset("");
        if (opset >= TargetOpset) return PassResult.Of(Name, 0);
        if (opset >= 13)
        {
            // 13–15 → 16 changes no op's meaning except RoiAlign's default coordinate mode: pin the old one.
            int pinned = 0;
            foreach (var roi in model.Graph.Nodes.Where(n => n.IsStandard && n.OpType == "RoiAlign" && !n.Attributes.Contains("coordinate_transformation_mode")))
            {
                roi.Attributes.Set("coordinate_transformation_mode", "output_half_pixel");
                pinned++;
            }
            model.SetOpset("", TargetOpset);
            return new PassResult(Name, pinned + 1, [$"opset {opset} → {TargetOpset}"]);
        }
        Validate(model, opset);
        cancellationToken.ThrowIfCancellationRequested();
        var g = model.Graph;
        var b = new GraphBuilder(model);
        foreach (var node in g.Nodes.ToArray())
        {
            if (!node.IsStandard) continue;
            var a = node.Attributes;
            switch (node.OpType)
            {
                case "Clip" when opset < 11:
                {
                    float min = a.GetFloat("min", float.MinValue), max = a.GetFloat("max", float.MaxValue);
                    a.Remove("min"); a.Remove("max");
                    g.SetInput(node, 1, b.Initializer("clip_min", Tensor.Scalar(min)));
                    g.SetInput(node, 2, b.Initializer("clip_max", Tensor.Scalar(max)));
                    break;
                }
                case "Pad" when opset < 11:
                {
                    var pads = (a.GetInts("pads") ?? a.GetInts("paddings"))!;
                    float value = a.GetFloat("value", 0f);
                    a.Remove("pads"); a.Remove("paddings"); a.Remove("value");
                    g.SetInput(node, 1, b.Int64s("pads", pads));
                    g.SetInput(node, 2, b.Initializer("pad_value", Tensor.Scalar(value)));
                    break;
                }
                case "Squeeze" or "Unsqueeze" or "ReduceSum" when a.GetInts("axes") is { } axes:
                    a.Remove("axes");
                    g.SetInput(node, 1, b.Int64s("axes", axes));
                    break;
                case "Split" when a.GetInts("split") is { } split:
                    a.Remove("split");
                    g.SetInput(node, 1, b.Int64s("split", split));
                    break;
                case "Slice" when opset < 10:
                {
                    var starts = a.GetInts("starts")!;
                    var ends = a.GetInts("ends")!;
                    var axes = a.GetInts("axes") ?? Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
                    a.Remove("starts"); a.Remove("ends"); a.Remove("axes");
                    g.SetInput(node, 1, b.Int64s("starts", starts));
                    g.SetInput(node, 2, b.Int64s("ends", ends));
                    g.SetInput(node, 3, b.Int64s("axes", axes));
                    break;
                }
                case "Dropout":
                    a.Remove("ratio"); a.Remove("is_test");
                    break;
                case "BatchNormalization":
                    a.Remove("spatial"); a.Remove("is_test");
                    if (node.Outputs.Count > 1) KeepFirstOutput(g, node); // opset ≤ 9 exports list dead training outputs
                    break;
                case "Upsample":
                    ReplaceUpsample(b, node, opset);
                    break;
                case "Resize" when opset < 11:
                {
                    // Resize-10: (X, scales) with asymmetric coordinates; from 11: (X, roi, scales, sizes).
                    var scales = node.Input(1);
                    g.SetInput(node, 1, b.Initializer("roi", Array.Empty<float>(), 0));
                    g.SetInput(node, 2, scales);
                    a.Set("coordinate_transformation_mode", "asymmetric");
                    if (a.GetString("mode", "nearest") == "nearest") a.Set("nearest_mode", "floor");
                    break;
                }
                case "Softmax" or "LogSoftmax" or "Hardmax":
                {
                    var shape = _shapeOf(node.Input(0)!)!;
                    long axis = a.GetInt("axis", 1);
                    if (axis < 0) axis += shape.Length;
                    if (axis == shape.Length - 1) { a.Set("axis", axis); break; }
                    // Old semantics: flatten to [∏ dims before axis, ∏ dims from axis], normalize rows, reshape back.
                    long rows = shape[..(int)axis].Aggregate(1L, (p, q) => p * q), cols = shape[(int)axis..].Aggregate(1L, (p, q) => p * q);
                    var flat = b.Op("Reshape", [node.Input(0)!, b.Int64s("sm_shape", rows, cols)]);
                    g.SetInput(node, 0, flat);
                    a.Set("axis", 1L);
                    var restored = g.AddNode("Reshape", [node.Output(0)!, b.Int64s("sm_back", shape)], [node.Output(0)!.Name + "_restored"]).Output(0)!;
                    foreach (var consumer in node.Output(0)!.Consumers.ToArray())
                        if (consumer != restored.Producer)
                            for (int i = 0; i < consumer.Inputs.Count; i++)
                                if (consumer.Input(i) == node.Output(0)) g.SetInput(consumer, i, restored);
                    for (int i = 0; i < g.Outputs.Count; i++)
                        if (g.Outputs[i] == node.Output(0)) g.SetOutput(i, restored);
                    break;
                }
            }
        }
        model.SetOpset("", TargetOpset);
        g.TopologicalSort();
        return new PassResult(Name, 1, [$"opset {opset} → {TargetOpset}"]);
    }

    // Everything the rewrite would refuse, checked before any edit so a refused model is left as it was.
    private void Validate(OnnxModel model, long opset)
    {
        if (opset < 7) throw new UnsupportedModelException($"The model imports opset {opset}; the upgrade supports opset 7 and later.");
        foreach (var node in model.Graph.Nodes)
        {
            if (!node.IsStandard) continue;
            var a = node.Attributes;
            switch (node.OpType)
            {
                case "Add" or "Sub" or "Mul" or "Div" when a.Contains("broadcast"):
                    throw new UnsupportedModelException($"Node {node.DisplayName} ({node.OpType}) uses the pre-opset-7 broadcast attribute.");
                case "Pad" when opset < 11 && a.GetInts("pads") is null && a.GetInts("paddings") is null:
                    throw new UnsupportedModelException($"Pad node {node.DisplayName} has no pads.");
                case "Softmax" or "LogSoftmax" or "Hardmax" when _shapeOf(node.Input(0)!) is null:
                    throw new UnsupportedModelException($"Node {node.DisplayName}: the input shape is needed to upgrade {node.OpType} to opset 13.");
                case "BatchNormalization":
                    for (int i = 1; i < node.Outputs.Count; i++)
                        if (node.Output(i) is { } o && (o.Consumers.Count > 0 || o.IsGraphOutput))
                            throw new UnsupportedModelException($"Node {node.DisplayName} ({node.OpType}): output {i} ('{o.Name}') is used; it has no opset-13 form.");
                    break;
            }
        }
    }

    /// <summary>Replaces a node by a copy (inputs, attributes, name) with only its first output; the others must be unused.</summary>
    private static void KeepFirstOutput(Graph g, Node node)
    {
        var copy = g.AddNode(node.OpType, node.Inputs, [node.Output(0)!.Name + "_v13"], name: node.Name + "_v13");
        foreach (var attribute in node.Proto.Attribute) copy.Proto.Attribute.Add(attribute.Clone());
        g.ReplaceAllUses(node.Output(0)!, copy.Output(0)!);
        g.RemoveNode(node);
    }

    private static void ReplaceUpsample(GraphBuilder b, Node node, long opset)
    {
        var g = b.Graph;
        Value scales = opset >= 9 ? node.Input(1)! : b.Initializer("scales", node.Attributes.GetFloats("scales")!, node.Attributes.GetFloats("scales")!.Length);
        var mode = node.Attributes.GetString("mode", "nearest")!;
        var resize = b.OpNode("Resize", [node.Input(0)!, b.Initializer("roi", Array.Empty<float>(), 0), scales], 1,
            ("mode", mode == "bilinear" ? "linear" : mode), ("coordinate_transformation_mode", "asymmetric"), ("nearest_mode", "floor"));
        g.ReplaceAllUses(node.Output(0)!, resize.Output(0)!);
        g.RemoveNode(node);
    }
}
