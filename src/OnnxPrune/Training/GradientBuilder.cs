using OnnxPrune.Graph;
using OnnxPrune.Graph.Passes;
using OnnxPrune.Tensors;

namespace OnnxPrune.Training;

/// <summary>Settings for <see cref="GradientBuilder.Build"/>.</summary>
public sealed record GradientBuilderOptions
{
    /// <summary>The fixed batch size of the training graph (every shape in it is static).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>The loss (of one output); ignored when <see cref="Losses"/> is set.</summary>
    public LossOptions Loss { get; init; } = new();

    /// <summary>One loss per trained output (several task heads); null: <see cref="Loss"/> alone.</summary>
    public IReadOnlyList<LossOptions>? Losses { get; init; }

    /// <summary>How BatchNormalization trains (default frozen statistics).</summary>
    public BatchNormMode BatchNorm { get; init; } = BatchNormMode.Frozen;

    /// <summary>
    /// Which constants train; null: every float32 constant with more than one element that feeds the loss through
    /// differentiable inputs only, except BatchNormalization running statistics.
    /// </summary>
    public Func<ConstantTensor, bool>? IsTrainable { get; init; }

    /// <summary>Full input shapes by name; inputs not listed take their declared shape with the first dimension set to the batch size.</summary>
    public IReadOnlyDictionary<string, long[]>? InputShapes { get; init; }

    /// <summary>How Conv weight gradients are emitted.</summary>
    public ConvWeightGradientMethod ConvWeightGradient { get; init; } = ConvWeightGradientMethod.Im2ColGemm;

    /// <summary>The gradient rules; null: <see cref="GradientRegistry.CreateDefault"/>.</summary>
    public GradientRegistry? Registry { get; init; }
}

/// <summary>
/// Turns a forward model into a training graph of standard ONNX ops (default domain; the forward model's opset when it is
/// ≥ 13, else opset 16 with the forward ops lifted by <see cref="OpsetUpgradePass"/>; the exported model keeps its own): the
/// trainable constants become inputs, a loss is attached to the chosen output, and reverse-mode differentiation emits the
/// gradient of every trainable tensor, node by node through <see cref="IGradientRule"/>s. Parts of the model with no
/// trainable tensor upstream get no backward ops. Shapes are static at <see cref="GradientBuilderOptions.BatchSize"/>,
/// learned by running the forward model once.
/// </summary>
public static class GradientBuilder
{
    /// <summary>
    /// The lowest opset the training graph is written at; older models are lifted to it in the training copy (opset 16:
    /// the scatter reductions that repeated-index Gather and overlapping MaxPool gradients need).
    /// </summary>
    public const int MinimumOpset = OpsetUpgradePass.TargetOpset;

    /// <summary>Builds the training graph; the forward model is not modified.</summary>
    /// <exception cref="UnsupportedModelException">An op on the path to the loss has no gradient rule (the message names the node),
    /// the opset is below 7, or nothing is trainable.</exception>
    public static TrainingGraph Build(OnnxModel forward, GradientBuilderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(forward);
        options ??= new GradientBuilderOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1);
        var registry = options.Registry ?? GradientRegistry.CreateDefault();
        var model = OnnxModel.FromBytes(forward.ToBytes(), forward.SourcePath ?? "forward");
        var g = model.Graph;
        g.TopologicalSort();
        int batch = options.BatchSize;

        // ---- static shapes at the training batch size (after lifting opset 7–12 models to opset 13)
        var inputShapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var input in g.DataInputs)
            inputShapes[input.Name] = options.InputShapes?.GetValueOrDefault(input.Name) ?? ConcreteShape(input, batch);
        UpgradeIfNeeded(model, inputShapes);
        long opset = model.GetOpset("");
        var probed = TrainingShapes.Resolve(model, inputShapes);
        var types = new Dictionary<Value, (ElementType, long[])>();
        var known = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var v in g.Values)
        {
            if (probed.TryGetValue(v.Name, out var p)) { types[v] = (p.Type, p.Shape); if (p.Value is not null) known[v.Name] = p.Value; }
            else if (v.Constant is { } c) types[v] = (c.ElementType, c.Shape.ToArray());
        }
        foreach (var input in g.DataInputs.ToArray())
            input.Shape = inputShapes[input.Name].Select(d => new Dim(d)).ToArray();

        var specs = options.Losses ?? [options.Loss];
        if (specs.Count == 0) throw new ArgumentException("At least one loss is needed.", nameof(options));
        var headIndex = specs.Select(s => OutputIndexOf(g, s)).ToArray();
        if (headIndex.Distinct().Count() != headIndex.Length)
            throw new ArgumentException("Each output takes one loss (blend cross-entropy and distillation in one LossOptions).", nameof(options));
        if (specs.Count(s => s.DistillationWeight > 0) > 1) throw new ArgumentException("At most one head distils from the teacher.", nameof(options));
        var ancestors = new HashSet<Value>();
        foreach (var i in headIndex) ancestors.UnionWith(Ancestors(g.Outputs[i]));
        var z = g.Outputs[headIndex[0]];

        // ---- trainable constants
        var isTrainable = options.IsTrainable ?? (c => DefaultTrainable(c, registry));
        var trainable = g.Constants.Where(c => ancestors.Contains(c.Value) && isTrainable(c)).ToList();
        if (trainable.Count == 0) throw new UnsupportedModelException($"No trainable tensor (float32 constant with more than one element) feeds the loss output '{z.Name}'.");

        var builder = new GraphBuilder(model);
        var needs = new HashSet<Value>();
        var context = new GradientContext(builder, types, known, needs, opset, options.BatchNorm) { ConvWeightGradient = options.ConvWeightGradient };

        // ---- batch-statistics BatchNormalization is rewritten into standard ops before differentiation
        var bnStats = new List<BatchNormStatistics>();
        if (options.BatchNorm == BatchNormMode.BatchStatistics)
            foreach (var node in g.Nodes.Where(n => n.OpType == "BatchNormalization" && n.IsStandard && ancestors.Contains(n.Output(0)!)).ToArray())
                bnStats.Add(RewriteBatchNorm(context, node));
        var zs = headIndex.Select(i => g.Outputs[i]).ToArray(); // a rewritten BN may have produced an output itself
        z = zs[0];

        // ---- constants → inputs (same names)
        var parameters = new List<Value>();
        foreach (var c in trainable)
        {
            var (type, shape) = (c.ElementType, c.Shape.ToArray());
            if (type != ElementType.Float) throw new UnsupportedModelException($"Trainable tensor '{c.Name}' is {type}; only float32 weights train.");
            string name = c.Name;
            var uses = c.Value.Consumers.Distinct().SelectMany(n => n.Inputs.Select((v, i) => (n, i, v)).Where(t => t.v == c.Value)).Select(t => (t.n, t.i)).ToList();
            foreach (var (n, i) in uses) g.SetInput(n, i, null);
            if (c.Kind == ConstantKind.Initializer) g.RemoveInitializer(c);
            else g.RemoveNode(c.Node!);
            var input = g.AddInput(name, ElementType.Float, shape.Select(d => new Dim(d)).ToArray());
            foreach (var (n, i) in uses) g.SetInput(n, i, input);
            types[input] = (ElementType.Float, shape);
            parameters.Add(input);
            needs.Add(input);
        }

        // ---- which values depend on trainable tensors (through differentiable inputs)
        g.TopologicalSort();
        foreach (var node in g.Nodes)
        {
            var rule = node.IsStandard ? registry.Find(node.OpType) : null;
            bool any = false;
            for (int i = 0; i < node.Inputs.Count; i++)
                if (node.Input(i) is { } v && needs.Contains(v) && (rule is null || rule.IsDifferentiable(node, i))) any = true;
            if (!any) continue;
            foreach (var o in node.Outputs)
                if (o is not null && types.TryGetValue(o, out var t) && t.Item1 is ElementType.Float or ElementType.Double or ElementType.Float16)
                    needs.Add(o);
        }
        foreach (var zi in zs)
            if (!needs.Contains(zi)) throw new UnsupportedModelException($"The loss output '{zi.Name}' does not depend on any trainable tensor through differentiable ops.");

        // ---- loss and its gradient, per head; one head of weight 1 is the loss itself (no scaling ops)
        var forwardNodes = g.Nodes.ToArray();
        var heads = new List<(LossBuilder.Result Result, Value Output, LossOptions Spec)>();
        var grads = new Dictionary<Value, Value>(); // one seed per head output (outputs are distinct)
        Value? total = null;
        for (int h = 0; h < zs.Length; h++)
        {
            var spec = specs[h];
            var r = LossBuilder.Emit(context, zs[h], context.ShapeOf(zs[h]), spec, batch);
            bool unit = spec.Weight == 1f;
            var dz = unit ? r.OutputGradient : context.Mul(r.OutputGradient, spec.Weight);
            grads[zs[h]] = dz;
            var weighted = unit ? r.Loss : context.Mul(r.Loss, spec.Weight);
            total = total is null ? weighted : context.Add(total, weighted);
            heads.Add((r, zs[h], spec));
        }
        var loss = heads[0].Result with { Loss = total! };
        var firstCorrect = heads.Select(h => h.Result.Correct).FirstOrDefault(c => c is not null);

        // ---- reverse pass
        for (int k = forwardNodes.Length - 1; k >= 0; k--)
        {
            var node = forwardNodes[k];
            var outGrads = node.Outputs.Select(o => o is not null && grads.TryGetValue(o, out var d) ? d : null).ToArray();
            if (outGrads.All(d => d is null)) continue;
            if (!node.Inputs.Any(v => v is not null && needs.Contains(v))) continue;
            var rule = (node.IsStandard ? registry.Find(node.OpType) : null)
                ?? throw new UnsupportedModelException($"No gradient rule for op {(node.IsStandard ? "" : node.Domain + ".")}{node.OpType} (node {node.DisplayName}); it lies between trainable tensors and the loss. Freeze the tensors above it or add a rule to the GradientRegistry.");
            var inGrads = rule.Backward(context, node, outGrads);
            for (int i = 0; i < node.Inputs.Count && i < inGrads.Length; i++)
            {
                if (inGrads[i] is not { } d || node.Input(i) is not { } v || !needs.Contains(v)) continue;
                grads[v] = grads.TryGetValue(v, out var prev) ? context.Add(prev, d) : d;
            }
        }

        // ---- outputs: loss, correct count, gradients, BN statistics
        foreach (var o in g.Outputs.ToArray()) g.RemoveOutput(o);
        var lossOut = Rename(g, loss.Loss, "loss");
        g.AddOutput(lossOut);
        string? correctName = null;
        if (firstCorrect is { } correct)
        {
            var co = Rename(g, correct, "correct");
            g.AddOutput(co);
            correctName = co.Name;
        }
        var trainingHeads = new List<TrainingHead>();
        foreach (var (r, output, spec) in heads)
        {
            string headLoss = lossOut.Name, headCorrect = correctName ?? "";
            if (heads.Count > 1)
            {
                var lo = Rename(g, r.Loss, g.UniqueName("loss_" + output.Name));
                g.AddOutput(lo);
                headLoss = lo.Name;
                if (r.Correct is { } c && c != firstCorrect)
                {
                    var co = Rename(g, c, g.UniqueName("correct_" + output.Name));
                    g.AddOutput(co);
                    headCorrect = co.Name;
                }
            }
            trainingHeads.Add(new TrainingHead(output.Name, spec, r.TargetInput, headLoss, r.Correct is null ? null : headCorrect, r.TeacherInput));
        }
        var trainables = new List<TrainableParameter>();
        foreach (var p in parameters)
        {
            var shape = types[p].Item2;
            var grad = grads.TryGetValue(p, out var d) ? d : context.Zeros(shape);
            var named = Rename(g, grad, "grad_" + p.Name);
            g.AddOutput(named);
            trainables.Add(new TrainableParameter(p.Name, named.Name, shape));
        }
        foreach (var s in bnStats)
        {
            g.AddOutput(g.GetValue(s.MeanOutput));
            g.AddOutput(g.GetValue(s.VarianceOutput));
        }
        new CleanupPass().Run(model);
        model.ProducerName = "OnnxPrune (training graph)";
        var dataInputs = g.DataInputs.Where(v => inputShapes.ContainsKey(v.Name)).Select(v => v.Name).ToArray();
        var teacherInput = heads.Select(h => h.Result.TeacherInput).FirstOrDefault(t => t is not null);
        return new TrainingGraph(model, batch, dataInputs, loss.TargetInput, teacherInput, lossOut.Name, correctName, trainables, bnStats, trainingHeads);
    }

    /// <summary>
    /// The default trainable set: float32 constants with more than one element that are not BN running statistics and are
    /// read only through inputs their rules call differentiable (so shape tensors, Resize scales or Clip bounds stay fixed).
    /// </summary>
    public static bool DefaultTrainable(ConstantTensor constant, GradientRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(constant);
        ArgumentNullException.ThrowIfNull(registry);
        if (constant.ElementType != ElementType.Float || constant.ElementCount <= 1) return false;
        foreach (var node in constant.Value.Consumers)
            for (int i = 0; i < node.Inputs.Count; i++)
            {
                if (node.Input(i) != constant.Value) continue;
                if (node.OpType == "BatchNormalization" && i >= 3) return false;
                var rule = node.IsStandard ? registry.Find(node.OpType) : null;
                if (rule is not null && !rule.IsDifferentiable(node, i)) return false;
            }
        return true;
    }

    /// <summary>Lifts a model below <see cref="MinimumOpset"/> to it (<see cref="OpsetUpgradePass"/>); the Softmax shapes it
    /// needs for opset 7–12 come from the static engine (ONNX Runtime only if that cannot answer).</summary>
    internal static void UpgradeIfNeeded(OnnxModel model, IReadOnlyDictionary<string, long[]> inputShapes)
    {
        long opset = model.GetOpset("");
        if (opset >= MinimumOpset) return;
        Func<Value, long[]?>? shapeOf = null;
        if (opset < 13)
        {
            // Resolved only when a Softmax-family node asks (the pass validates before editing, so the model is unchanged then).
            var before = new Lazy<Dictionary<string, (ElementType Type, long[] Shape, Tensor? Value)>>(() => TrainingShapes.Resolve(model, inputShapes));
            shapeOf = v => v.Constant?.Shape.ToArray() ?? (before.Value.TryGetValue(v.Name, out var p) ? p.Shape : null);
        }
        new OpsetUpgradePass(shapeOf).Run(model);
    }

    private static Value Rename(Graph.Graph g, Value v, string name)
    {
        if (v.Name == name) return v;
        return g.AddNode("Identity", [v], [name]).Output(0)!;
    }

    private static long[] ConcreteShape(Value input, int batch)
    {
        var shape = input.Shape ?? throw new UnsupportedModelException($"Input '{input.Name}' has no declared shape; pass it in GradientBuilderOptions.InputShapes.");
        var dims = new long[shape.Count];
        for (int i = 0; i < dims.Length; i++)
        {
            if (i == 0) dims[i] = batch;
            else dims[i] = shape[i].Value ?? throw new UnsupportedModelException($"Input '{input.Name}' has a dynamic dimension {i} ({shape[i]}); pass its shape in GradientBuilderOptions.InputShapes.");
        }
        return dims;
    }

    private static int OutputIndexOf(Graph.Graph g, LossOptions spec)
    {
        if (spec.Output is { } name)
        {
            for (int i = 0; i < g.Outputs.Count; i++)
                if (g.Outputs[i].Name == name) return i;
            throw new ArgumentException($"The loss names output '{name}'; the model's outputs are {string.Join(", ", g.Outputs.Select(o => "'" + o.Name + "'"))}.", nameof(spec));
        }
        if (spec.OutputIndex < 0 || spec.OutputIndex >= g.Outputs.Count)
            throw new ArgumentException($"Loss output index {spec.OutputIndex} is out of range ({g.Outputs.Count} outputs).", nameof(spec));
        return spec.OutputIndex;
    }

    private static HashSet<Value> Ancestors(Value output)
    {
        var seen = new HashSet<Value> { output };
        var stack = new Stack<Value>();
        stack.Push(output);
        while (stack.Count > 0)
        {
            var v = stack.Pop();
            if (v.Producer is not { } p) continue;
            foreach (var i in p.Inputs.Concat(p.ImplicitInputs))
                if (i is not null && seen.Add(i)) stack.Push(i);
        }
        return seen;
    }

    /// <summary>
    /// Replaces a BatchNormalization node by y = (x − μ_B)·(σ²_B + ε)^(−½)·γ + β over the batch statistics, which the
    /// generic rules then differentiate exactly; μ_B and σ²_B [C] become outputs.
    /// </summary>
    internal static BatchNormStatistics RewriteBatchNorm(GradientContext c, Node bn)
    {
        var g = c.Builder.Graph;
        var x = bn.Input(0)!;
        var xShape = c.ShapeOf(x);
        long ch = xShape[1];
        var bcast = xShape.Select((d, i) => i == 1 ? d : 1L).ToArray();
        var axes = Enumerable.Range(0, xShape.Length).Where(i => i != 1).Select(i => (long)i).ToArray();
        float eps = bn.Attributes.GetFloat("epsilon", 1e-5f);
        float momentum = bn.Attributes.GetFloat("momentum", 0.9f);
        var meanName = bn.Input(3)!.Name;
        var varName = bn.Input(4)!.Name;
        Value T(Value v, long[] shape) { c.SetType(v, ElementType.Float, shape); return v; }
        var mean = T(c.ReduceMean(x, axes, keepDims: true), bcast);
        var xc = T(c.Sub(x, mean), xShape);
        var sq = T(c.Mul(xc, xc), xShape);
        var variance = T(c.ReduceMean(sq, axes, keepDims: true), bcast);
        var shifted = T(c.Add(variance, c.Scalar(eps)), bcast);
        var std = T(c.Op("Sqrt", [shifted]), bcast);
        var inv = T(c.Op("Reciprocal", [std]), bcast);
        var xhat = T(c.Mul(xc, inv), xShape);
        var gamma = T(c.Reshape(bn.Input(1)!, bcast), bcast);
        var beta = T(c.Reshape(bn.Input(2)!, bcast), bcast);
        var scaled = T(c.Mul(xhat, gamma), xShape);
        var y = T(c.Add(scaled, beta), xShape);
        var meanOut = g.AddNode("Reshape", [mean, c.Int64s(ch)], ["bn_mean_" + meanName]).Output(0)!;
        var varOut = g.AddNode("Reshape", [variance, c.Int64s(ch)], ["bn_var_" + varName]).Output(0)!;
        var old = bn.Output(0)!;
        g.ReplaceAllUses(old, y);
        g.RemoveNode(bn);
        return new BatchNormStatistics(bn.DisplayName, meanName, varName, meanOut.Name, varOut.Name, momentum, xShape.Aggregate(1L, (a, b) => a * b) / ch);
    }
}
