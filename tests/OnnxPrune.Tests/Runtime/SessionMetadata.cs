using Microsoft.ML.OnnxRuntime;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Runtime;

/// <summary>A session input or output for tests: name, OnnxPrune element type, shape (-1 dynamic), readable type.</summary>
internal sealed record DeclaredValue(string Name, ElementType ElementType, long[] Shape, string TypeText);

/// <summary>Session metadata in model order, for tests that walk every input or output.</summary>
internal static class SessionMetadata
{
    public static IReadOnlyList<DeclaredValue> Inputs(this InferenceSession session) => Describe(session.InputNames, session.InputMetadata);

    public static IReadOnlyList<DeclaredValue> Outputs(this InferenceSession session) => Describe(session.OutputNames, session.OutputMetadata);

    private static DeclaredValue[] Describe(IReadOnlyList<string> names, IReadOnlyDictionary<string, NodeMetadata> metadata) =>
        names.Select(n => new DeclaredValue(n, metadata[n].OnnxPruneElementType(), metadata[n].Dimensions.Select(d => (long)d).ToArray(), metadata[n].TypeText())).ToArray();
}
