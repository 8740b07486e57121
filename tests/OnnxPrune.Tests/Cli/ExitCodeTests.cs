using System.Runtime.CompilerServices;
using OnnxPrune.Cli;
using OnnxPrune.Data;
using OnnxPrune.Runtime;
using OnnxPrune.Tensors;
using OnnxPrune.Training;

namespace OnnxPrune.Tests.Cli;

/// <summary>Every exception type the library throws on purpose has its exit code.</summary>
public class ExitCodeTests
{
    /// <summary>The codes of the types this branch knows; a type added elsewhere must at least not be an internal error.</summary>
    private static readonly Dictionary<Type, int> Expected = new()
    {
        [typeof(OnnxPruneException)] = ExitCodes.BadModel,
        [typeof(OnnxFormatException)] = ExitCodes.BadModel,
        [typeof(UnsupportedModelException)] = ExitCodes.Unsupported,
        [typeof(PruningConstraintException)] = ExitCodes.PruningConstraint,
        [typeof(OrtCallException)] = ExitCodes.Runtime,
        [typeof(TrainingDivergedException)] = ExitCodes.TrainingDiverged,
        [typeof(DataFormatException)] = ExitCodes.BadData,
        [typeof(UnsupportedElementTypeException)] = ExitCodes.UnsupportedElementType,
        [typeof(OnnxPrune.Pruning.Importance.ScoresFormatException)] = ExitCodes.ScoresFormat,
        [typeof(OnnxPrune.Pruning.NonFiniteWeightsException)] = ExitCodes.NonFiniteWeights,
        [typeof(OnnxPrune.Analysis.ModelMismatchException)] = ExitCodes.Usage,
        [typeof(OnnxPrune.Tasks.BaseModelMismatchException)] = ExitCodes.Usage,
        [typeof(OnnxPrune.Tasks.TaskLibraryException)] = ExitCodes.TaskLibrary,
        [typeof(OnnxPrune.Tasks.CorruptTaskEntryException)] = ExitCodes.TaskLibrary,
        [typeof(OnnxPrune.Tasks.TaskListFormatException)] = ExitCodes.TaskListFormat,
        [typeof(OnnxPrune.MultiTask.TaskFileException)] = ExitCodes.BadData,
        [typeof(OnnxPrune.Pipeline.GateFailedException)] = ExitCodes.GateFailed,
        [typeof(OnnxPrune.Pipeline.PipelineFormatException)] = ExitCodes.Usage,
        [typeof(OnnxPrune.Pruning.VerificationInputException)] = ExitCodes.Usage,
    };

    private static IEnumerable<Type> LibraryExceptionTypes() =>
        typeof(OnnxPruneException).Assembly.GetTypes().Where(t => typeof(OnnxPruneException).IsAssignableFrom(t) && !t.IsAbstract);

    [Test]
    public void EveryLibraryExceptionTypeMapsToItsOwnExitCode()
    {
        var found = LibraryExceptionTypes().ToList();
        Assert.That(found, Is.EquivalentTo(Expected.Keys), "every library exception type is listed here with its exit code (a new type needs its code)");
        foreach (var type in found)
        {
            var instance = (Exception)RuntimeHelpers.GetUninitializedObject(type);
            var (code, kind) = ExitCodes.Classify(instance);
            Assert.That(code, Is.Not.EqualTo(ExitCodes.Internal), $"{type.Name} must not be an internal error");
            Assert.That(code, Is.Not.EqualTo(ExitCodes.Ok), $"{type.Name} must not exit 0");
            Assert.That(kind, Is.Not.Empty);
            Assert.That(code, Is.EqualTo(Expected[type]), type.Name);
        }
        // Each kind of failure has a code of its own. Shared on purpose: the root with the model-format error; the two
        // wrong-base-model errors and a bad pipeline file with bad arguments (2: the user named the wrong file or wrote a bad one); a corrupt entry with its library's root; a malformed tasks file with a malformed data file (both describe the data).
        var shared = new[] { typeof(OnnxPruneException), typeof(OnnxFormatException), typeof(OnnxPrune.Analysis.ModelMismatchException),
            typeof(OnnxPrune.Tasks.BaseModelMismatchException), typeof(OnnxPrune.Tasks.CorruptTaskEntryException),
            typeof(OnnxPrune.Pipeline.PipelineFormatException), typeof(OnnxPrune.MultiTask.TaskFileException) };
        var subtypeCodes = Expected.Where(p => !shared.Contains(p.Key)).Select(p => p.Value).ToList();
        Assert.That(subtypeCodes, Is.Unique);
        Assert.That(subtypeCodes, Has.None.EqualTo(ExitCodes.BadModel));
    }

    [Test]
    public void BadDataFolderExitsWithTheDataCodeNamingTheFile()
    {
        var dir = TestPaths.TempDir();
        NpyFile.Write(Path.Combine(dir, "train_images.npy"), Tensor.Zeros(ElementType.UInt8, 3, 4, 4));
        NpyFile.Write(Path.Combine(dir, "train_labels.npy"), Tensor.FromArray<float>([0, 1, 1], 3));
        var e = Assert.Throws<DataFormatException>(() => NpyImageSet.Load(dir, train: true))!;
        Assert.That(e.Path, Does.EndWith("train_labels.npy"));
        Assert.That(ExitCodes.Classify(e).Code, Is.EqualTo(ExitCodes.BadData));
    }

    [Test]
    public void RandomInputsForAStringInputAreATypedError()
    {
        var model = OnnxPrune.Tests.Runtime.TestModels.Model([OnnxPrune.Tests.Runtime.TestModels.Node("Identity", ["names"], ["y"])],
            [OnnxPrune.Tests.Runtime.TestModels.Value("names", ElementType.String, 1)], [OnnxPrune.Tests.Runtime.TestModels.Value("y", ElementType.String, 1)]);
        using var session = OrtSessions.Create(model);
        var e = Assert.Throws<UnsupportedElementTypeException>(() => RandomInputs.Create(session.InputMetadata, 1))!;
        Assert.That(e.Message, Does.Contain("'names'"));
        Assert.That(ExitCodes.Classify(e).Code, Is.EqualTo(ExitCodes.UnsupportedElementType));
    }
}
