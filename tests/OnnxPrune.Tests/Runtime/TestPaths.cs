using NUnit.Framework;

namespace OnnxPrune.Tests.Runtime;

internal static class TestPaths
{
    /// <summary>The shared real-model folder: ONNXPRUNE_SHARED_MODELS, else the first <c>shared/onnx-models</c> found walking up from the test assembly.</summary>
    public static string SharedModels()
    {
        var overridden = Environment.GetEnvironmentVariable("ONNXPRUNE_SHARED_MODELS");
        if (!string.IsNullOrEmpty(overridden))
        {
            Assert.That(Directory.Exists(overridden), Is.True, $"ONNXPRUNE_SHARED_MODELS={overridden} does not exist.");
            return overridden;
        }
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir != null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "onnx-models");
            if (Directory.Exists(candidate)) return candidate;
        }
        Assert.Fail($"No shared/onnx-models folder above {TestContext.CurrentContext.TestDirectory} (expected ../shared/onnx-models next to the repository, or set ONNXPRUNE_SHARED_MODELS).");
        return "";
    }

    /// <summary>The repository root (folder holding OnnxPrune.sln).</summary>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "OnnxPrune.sln"))) return dir.FullName;
        Assert.Fail("Repository root (OnnxPrune.sln) not found above the test assembly.");
        return "";
    }
}
