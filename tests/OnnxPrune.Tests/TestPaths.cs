namespace OnnxPrune.Tests;

/// <summary>Where tests find their inputs. Missing inputs fail loudly: CI installs them.</summary>
public static class TestPaths
{
    /// <summary>The repository root (the folder holding OnnxPrune.sln).</summary>
    public static string RepoRoot { get; } = FindUp("OnnxPrune.sln") ?? throw new DirectoryNotFoundException("OnnxPrune.sln not found above " + AppContext.BaseDirectory);

    /// <summary>../shared/onnx-models: real third-party models.</summary>
    public static string SharedModels
    {
        get
        {
            var dir = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "onnx-models"));
            if (!Directory.Exists(dir)) Assert.Fail($"Shared models folder {dir} is missing.");
            return dir;
        }
    }

    /// <summary>Every shared model file, by file name (for TestCaseSource).</summary>
    public static IEnumerable<string> SharedModelNames()
    {
        var dir = Path.GetFullPath(Path.Combine(FindUp("OnnxPrune.sln") ?? ".", "..", "shared", "onnx-models"));
        return Directory.Exists(dir)
            ? Directory.GetFiles(dir, "*.onnx").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)
            : new[] { "<shared/onnx-models missing>" };
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
