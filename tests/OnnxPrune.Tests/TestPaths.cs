namespace OnnxPrune.Tests;

/// <summary>Where tests find their inputs. Missing inputs fail loudly: CI installs them.</summary>
public static class TestPaths
{
    /// <summary>The repository root (the folder holding OnnxPrune.sln).</summary>
    public static string RepoRoot { get; } = FindUp("OnnxPrune.sln") ?? throw new DirectoryNotFoundException("OnnxPrune.sln not found above " + AppContext.BaseDirectory);

    /// <summary>Environment variable naming another folder of shared real models.</summary>
    public const string SharedModelsVariable = "ONNXPRUNE_SHARED_MODELS";

    /// <summary>Real third-party models: <c>ONNXPRUNE_SHARED_MODELS</c>, else ../shared/onnx-models beside the repository.</summary>
    public static string SharedModels
    {
        get
        {
            var dir = FindSharedModels();
            if (dir is null)
                Assert.Fail($"Shared models folder missing: expected ../shared/onnx-models beside {RepoRoot}, or set {SharedModelsVariable}.");
            return dir!;
        }
    }

    /// <summary>Every shared model file, by file name (for TestCaseSource; a missing folder gives one failing case).</summary>
    public static IEnumerable<string> SharedModelNames()
    {
        var dir = FindSharedModels();
        return dir is not null
            ? Directory.GetFiles(dir, "*.onnx").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)
            : new[] { "<shared/onnx-models missing>" };
    }

    private static string? FindSharedModels()
    {
        if (Environment.GetEnvironmentVariable(SharedModelsVariable) is { Length: > 0 } overridden)
            return Directory.Exists(overridden) ? overridden : null;
        var root = FindUp("OnnxPrune.sln");
        if (root is null) return null;
        var dir = Path.GetFullPath(Path.Combine(root, "..", "shared", "onnx-models"));
        return Directory.Exists(dir) ? dir : null;
    }

    /// <summary>Full path of a shared model.</summary>
    public static string SharedModel(string fileName) => Path.Combine(SharedModels, fileName);

    /// <summary>Debian libonnx-testdata's data folder (node, pytorch-converted, pytorch-operator, simple).</summary>
    public static string OnnxTestData
    {
        get
        {
            const string dir = "/usr/share/libonnx-testdata/data";
            if (!Directory.Exists(dir)) Assert.Fail($"{dir} is missing: install Debian's libonnx-testdata (tools/test.sh does).");
            return dir;
        }
    }

    /// <summary>Root of this test run's temporary folders; <see cref="TestRunCleanup"/> deletes it when the run ends.</summary>
    public static string TempRoot { get; } = Path.Combine(Path.GetTempPath(), "onnxprune-tests", $"{Environment.ProcessId}-{Guid.NewGuid():N}");

    /// <summary>A fresh temporary folder under <see cref="TempRoot"/>, deleted when the test run ends.</summary>
    public static string TempDir()
    {
        var dir = Path.Combine(TempRoot, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string? FindUp(string file)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, file))) return d.FullName;
        return null;
    }
}

/// <summary>Deletes the run's temporary folders once every test has finished.</summary>
[SetUpFixture]
public sealed class TestRunCleanup
{
    /// <summary>Runs after the last test of the assembly.</summary>
    [OneTimeTearDown]
    public void DeleteTemporaryFolders()
    {
        try { if (Directory.Exists(TestPaths.TempRoot)) Directory.Delete(TestPaths.TempRoot, recursive: true); }
        catch (IOException e) { TestContext.Progress.WriteLine($"could not delete {TestPaths.TempRoot}: {e.Message}"); }
    }
}
