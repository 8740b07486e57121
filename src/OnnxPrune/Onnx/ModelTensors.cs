using OnnxPrune.Onnx.Proto;

namespace OnnxPrune.Onnx;

/// <summary>Visits every tensor message stored in a model: initializers, sparse initializers, tensor attributes
/// of nodes (Constant values), in the main graph, all subgraphs, functions and training graphs.</summary>
internal static class ModelTensors
{
    /// <summary>Calls <paramref name="visit"/> with each tensor and a short description of where it sits.</summary>
    public static void ForEach(ModelProto model, Action<TensorProto, string> visit)
    {
        if (model.Graph is not null) ForEach(model.Graph, visit);
        foreach (var f in model.Functions)
            foreach (var node in f.Node) ForEach(node, visit, $"function '{f.Name}'");
        foreach (var t in model.TrainingInfo)
        {
            if (t.Initialization is not null) ForEach(t.Initialization, visit);
            if (t.Algorithm is not null) ForEach(t.Algorithm, visit);
        }
    }

    /// <summary>Visits the tensors of one graph and its subgraphs.</summary>
    public static void ForEach(GraphProto graph, Action<TensorProto, string> visit)
    {
        foreach (var t in graph.Initializer) visit(t, $"initializer '{t.Name}'");
        foreach (var s in graph.SparseInitializer)
        {
            if (s.Values is not null) visit(s.Values, $"sparse initializer '{s.Values.Name}' values");
            if (s.Indices is not null) visit(s.Indices, $"sparse initializer '{s.Values?.Name}' indices");
        }
        foreach (var node in graph.Node) ForEach(node, visit, $"graph '{graph.Name}'");
    }

    private static void ForEach(NodeProto node, Action<TensorProto, string> visit, string where)
    {
        foreach (var a in node.Attribute)
        {
            var context = $"{where} node '{node.Name}' ({node.OpType}) attribute '{a.Name}'";
            if (a.T is not null) visit(a.T, context);
            foreach (var t in a.Tensors) visit(t, context);
            if (a.SparseTensor is not null)
            {
                if (a.SparseTensor.Values is not null) visit(a.SparseTensor.Values, context);
                if (a.SparseTensor.Indices is not null) visit(a.SparseTensor.Indices, context);
            }
            if (a.G is not null) ForEach(a.G, visit);
            foreach (var g in a.Graphs) ForEach(g, visit);
        }
    }
}
