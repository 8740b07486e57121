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
        [typeof(OnnxRuntimeException)] = ExitCodes.Runtime,
        [typeof(TrainingDivergedException)] = ExitCodes.TrainingDiverged,
        [typeof(DataFormatException)] = ExitCodes.BadData,
        [typeof(UnsupportedElementTypeException)] = ExitCodes.UnsupportedElementType,
    };

    private static IEnumerable<Type> LibraryExceptionTypes() =>
        typeof(OnnxPruneException).Assembly.GetTypes().Where(t => typeof(OnnxPruneException).IsAssignableFrom(t) && !t.IsAbstract);

    [Test]
    public void EveryLibraryExceptionTypeMapsToItsOwnExitCode()
    {
        var found = LibraryExceptionTypes().ToList();
        Assert.That(found, Is.SupersetOf(Expected.Keys), "every type listed here exists in the library");
        foreach (var type in found)
        {
            var instance = (Exception)RuntimeHelpers.GetUninitializedObject(type);
            var (code, kind) = ExitCodes.Classify(instance);
            Assert.That(code, Is.Not.EqualTo(ExitCodes.Internal), $"{type.Name} must not be an internal error");
            Assert.That(code, Is.Not.EqualTo(ExitCodes.Ok), $"{type.Name} must not exit 0");
            Assert.That(kind, Is.Not.Empty);
            if (Expected.TryGetValue(type, out var expected)) Assert.That(code, Is.EqualTo(expected), type.Name);
        }
        // Each subtype listed has a code of its own (the root's code is shared only with the model-format error).
        var subtypeCodes = Expected.Where(p => p.Key != typeof(OnnxPruneException) && p.Key != typeof(OnnxFormatException)).Select(p => p.Value).ToList();
        Assert.That(subtypeCodes, Is.Unique);
        Assert.That(subtypeCodes, Has.None.EqualTo(ExitCodes.BadModel));
        Assert.That(new[] { ExitCodes.BadData, ExitCodes.UnsupportedElementType }, Has.None.InRange(10, 11), "10 and 11 are reserved");
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
        var input = new ValueMetadata("names", OnnxValueKind.Tensor, ElementType.String, [1L], [null]);
        var e = Assert.Throws<UnsupportedElementTypeException>(() => RandomInputs.Create([input], 1))!;
        Assert.That(e.Message, Does.Contain("'names'"));
        Assert.That(ExitCodes.Classify(e).Code, Is.EqualTo(ExitCodes.UnsupportedElementType));
    }
}
