using System.CommandLine;

namespace OnnxPrune.Cli;

/// <summary>Maps exception types to distinct exit codes; nothing is swallowed into a zero.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Usage = 2;
    public const int BadModel = 3;
    public const int Unsupported = 4;
    public const int PruningConstraint = 5;
    public const int Runtime = 6;
    public const int Io = 7;
    /// <summary>The pruned model differs from the masked reference beyond tolerance (prune --verify).</summary>
    public const int VerificationFailed = 8;
    public const int TrainingDiverged = 9;
    /// <summary>A scores file (prune --scores) is malformed or does not fit the model's groups.</summary>
    public const int ScoresFormat = 10;
    /// <summary>A weight holds NaN or ±infinity, so it cannot be scored.</summary>
    public const int NonFiniteWeights = 11;
    /// <summary>A data file or folder, or a tasks file, is malformed (<see cref="DataFormatException"/>, <see cref="OnnxPrune.MultiTask.TaskFileException"/>).</summary>
    public const int BadData = 12;
    /// <summary>A tensor or input has an element type (or kind) with no handling here (<see cref="UnsupportedElementTypeException"/>).</summary>
    public const int UnsupportedElementType = 13;
    /// <summary>A task library cannot be read: a corrupt entry file or an unreadable library folder (<see cref="OnnxPrune.Tasks.TaskLibraryException"/>).</summary>
    public const int TaskLibrary = 14;
    /// <summary>A task list file (<c>library fill --tasks</c>) is malformed; the message names the file and line.</summary>
    public const int TaskListFormat = 15;
    /// <summary>A pipeline gate failed (<see cref="OnnxPrune.Pipeline.GateFailedException"/>); the reports are written first.</summary>
    public const int GateFailed = 16;
    public const int Cancelled = 130;
    public const int Internal = 70;

    /// <summary>Parses and runs; known failures print one line on stderr and return their code.</summary>
    public static int Invoke(RootCommand root, string[] args)
    {
        var config = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
        try
        {
            var parse = root.Parse(args);
            if (parse.Errors.Count > 0)
            {
                // Bad options or arguments: say what is wrong and exit with the usage code, not the library's 1.
                foreach (var error in parse.Errors) Console.Error.WriteLine($"onnxprune: {error.Message}");
                Console.Error.WriteLine("Run 'onnxprune --help' (or 'onnxprune VERB --help') for usage.");
                return Usage;
            }
            return parse.Invoke(config);
        }
        catch (Exception ex)
        {
            var (code, kind) = Classify(ex);
            Console.Error.WriteLine($"onnxprune: {kind}: {ex.Message}");
            if (code == Internal) Console.Error.WriteLine(ex);
            return code;
        }
    }

    /// <summary>Exit code and a short label for an exception.</summary>
    public static (int Code, string Kind) Classify(Exception ex) => ex switch
    {
        OperationCanceledException => (Cancelled, "cancelled"),
        OnnxFormatException => (BadModel, "invalid model"),
        UnsupportedModelException => (Unsupported, "unsupported"),
        PruningConstraintException => (PruningConstraint, "pruning constraint"),
        OnnxPrune.Pruning.VerificationInputException => (Usage, "verification inputs"),
        OnnxPrune.Runtime.OrtCallException => (Runtime, "onnx runtime"),
        Microsoft.ML.OnnxRuntime.OnnxRuntimeException => (Runtime, "onnx runtime"),
        OnnxPrune.Training.TrainingDivergedException => (TrainingDiverged, "training diverged"),
        OnnxPrune.Pruning.Importance.ScoresFormatException => (ScoresFormat, "invalid scores file"),
        OnnxPrune.Pruning.NonFiniteWeightsException => (NonFiniteWeights, "non-finite weights"),
        OnnxPrune.Analysis.ModelMismatchException => (Usage, "wrong model"),
        OnnxPrune.Tasks.BaseModelMismatchException => (Usage, "wrong model"),
        OnnxPrune.Tasks.TaskListFormatException => (TaskListFormat, "invalid task list"),
        OnnxPrune.Tasks.TaskLibraryException => (TaskLibrary, "task library"),
        OnnxPrune.Pipeline.GateFailedException => (GateFailed, "gate failed"),
        OnnxPrune.Pipeline.PipelineFormatException => (Usage, "invalid pipeline file"),
        DataFormatException => (BadData, "invalid data file"),
        OnnxPrune.MultiTask.TaskFileException => (BadData, "invalid tasks file"),
        UnsupportedElementTypeException => (UnsupportedElementType, "unsupported element type"),
        OnnxPruneException => (BadModel, "error"),
        FileNotFoundException or DirectoryNotFoundException or IOException or UnauthorizedAccessException => (Io, "i/o error"),
        InvalidDataException => (Io, "invalid data file"),
        ArgumentException => (Usage, "invalid argument"),
        _ => (Internal, "internal error"),
    };
}
