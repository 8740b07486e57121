using OnnxPrune.Graph;
using OnnxPrune.Pruning;

namespace OnnxPrune.Cli.Commands;

/// <summary>Where the CLI gets its analyser, surgery and equivalence check (the analysis and runtime stages).</summary>
internal static class PruningBackend
{
    /// <summary>The pipeline over the dependency analyser and the one-pass surgery.</summary>
    public static Pruner Create() =>
        throw new UnsupportedModelException("this build has no dependency analyser yet (it arrives with the analysis stage).");

    /// <summary>Runs the pruned model against the masked original on seeded random inputs.</summary>
    public static VerificationResult Verify(string originalPath, OnnxModel pruned, PruneReport report, long seed) =>
        throw new UnsupportedModelException("--verify needs the masked reference and ONNX Runtime, not in this build yet.");
}
