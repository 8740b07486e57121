using System.Diagnostics;
using System.Text.Json;
using OnnxPrune.Analysis;
using OnnxPrune.Graph;

namespace OnnxPrune.Tests.Cli;

/// <summary><c>onnxprune analyze</c> end to end (the built CLI in a child process).</summary>
public class AnalyzeCommandTests
{
    private static (int Code, string Out, string Err) RunCli(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "OnnxPrune.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr);
    }

    [Test]
    public void JsonListsGroupsAndSummary()
    {
        var path = TestPaths.SharedModel("yolox_nano.onnx");
        var (code, stdout, stderr) = RunCli("analyze", path, "--json");
        Assert.That(code, Is.EqualTo(0), stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        var groups = root.GetProperty("groups");
        var analysis = DependencyAnalyzer.Analyze(OnnxModel.Load(path));
        Assert.That(groups.GetArrayLength(), Is.EqualTo(analysis.Groups.Count));
        Assert.That(root.GetProperty("prunable").GetInt32() + root.GetProperty("blockedCount").GetInt32(), Is.EqualTo(root.GetProperty("groupCount").GetInt32()));
        Assert.That(root.GetProperty("parameters").GetInt64(), Is.EqualTo(904467), "SOURCES.md parameter count");
        var share = root.GetProperty("prunableShare").GetDouble();
        Assert.That(share, Is.GreaterThan(0.5).And.LessThanOrEqualTo(1));
        var blocked = groups.EnumerateArray().Where(g => g.GetProperty("blocked").GetArrayLength() > 0).ToList();
        Assert.That(blocked, Is.Not.Empty);
        Assert.That(blocked.All(g => g.GetProperty("blocked")[0].GetString()!.Length > 0), Is.True);
        var first = groups[0];
        foreach (var key in new[] { "id", "kind", "root", "rootOp", "size", "parameters", "items" })
            Assert.That(first.TryGetProperty(key, out _), Is.True, key);
        // The first group is the stem conv's channels: its own weight rows are a scored slice on axis 0.
        var stemWeight = analysis.Groups[0].Root.Input(1)!.Name;
        Assert.That(first.GetProperty("items").EnumerateArray().Any(i => i.GetProperty("kind").GetString() == "ConstantSlice" &&
            i.GetProperty("tensor").GetString() == stemWeight && i.GetProperty("axis").GetInt32() == 0 && i.GetProperty("scored").GetBoolean()), Is.True);
    }

    [Test]
    public void TextEndsWithTheSummaryAndMissingFilesFail()
    {
        var (code, stdout, _) = RunCli("analyze", TestPaths.SharedModel("resnet20_cifar10_sclbl.onnx"));
        Assert.That(code, Is.EqualTo(0));
        // ResNet-20: 3 residual streams + 9 block-inner convs + the Gemm head (blocked: it writes the graph output).
        Assert.That(stdout, Does.Contain("Groups: 13, prunable: 12, blocked: 1"));
        Assert.That(stdout, Does.Contain("blocked: 'output' is a graph output"));
        var (missing, _, err) = RunCli("analyze", "/nonexistent/model.onnx");
        Assert.That(missing, Is.Not.EqualTo(0));
        Assert.That(err, Is.Not.Empty);
    }
}
