using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;
using OnnxPrune.Training;

namespace OnnxPrune.MultiTask;

/// <summary>
/// Gradients of a model's loss (one or more heads) with respect to chosen constants, batch by batch: the standard-op training
/// graph of <see cref="GradientBuilder"/> (BatchNormalization frozen: the model is scored as it is) run on ONNX Runtime.
/// The only place the multi-task stage runs a session itself.
/// </summary>
internal sealed class GradientProbe : IDisposable
{
    private readonly TrainingGraph _graph;
    private readonly Microsoft.ML.OnnxRuntime.InferenceSession _session;
    private readonly RunBinding _binding;
    private readonly HeadFeeder _feeder;

    public GradientProbe(OnnxModel model, IReadOnlyList<LossOptions> losses, int batchSize, Func<ConstantTensor, bool> trainable, SessionSettings? sessionSettings)
    {
        _graph = GradientBuilder.Build(model, new GradientBuilderOptions
        {
            BatchSize = batchSize, Losses = losses, BatchNorm = BatchNormMode.Frozen, IsTrainable = trainable,
        });
        _session = OrtSessions.Create(_graph.Model, (sessionSettings ?? new SessionSettings { AllowSpinning = false }) with { OptimizationLevel = Trainer.TrainingGraphOptimization });
        var constants = model.Graph.Constants.ToDictionary(c => c.Name, StringComparer.Ordinal);
        var parameters = _graph.Parameters.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var feeds = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, meta) in _session.InputMetadata)
            feeds[name] = parameters.Contains(name) && constants.TryGetValue(name, out var c)
                ? c.Data
                : Tensor.Zeros(meta.OnnxPruneElementType(), meta.Dimensions.Select(d => (long)Math.Max(d, 1)).ToArray());
        _binding = _session.CreateBinding(feeds, _graph.Parameters.Select(p => p.GradientName).Append(_graph.LossOutput).Distinct().ToArray());
        _feeder = new HeadFeeder(_graph, _binding.Inputs);
    }

    /// <summary>The batch size the graph was built for.</summary>
    public int BatchSize => _graph.BatchSize;

    /// <summary>The trainable constants' names.</summary>
    public IEnumerable<string> Parameters => _graph.Parameters.Select(p => p.Name);

    /// <summary>Runs one batch; returns parameter name → gradient (valid until the next call) and the loss.</summary>
    public (IReadOnlyDictionary<string, Tensor> Gradients, float Loss) Run(DataBatch batch, string dataName)
    {
        _feeder.Feed(batch, dataName);
        _binding.Run();
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var p in _graph.Parameters) result[p.Name] = _binding.Outputs[p.GradientName];
        return (result, _binding.Outputs[_graph.LossOutput].AsSpan<float>()[0]);
    }

    public void Dispose()
    {
        _binding.Dispose();
        _session.Dispose();
    }
}
