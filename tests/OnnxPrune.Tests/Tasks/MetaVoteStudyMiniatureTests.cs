using System.Diagnostics;
using System.Globalization;
using System.Xml.Linq;

namespace OnnxPrune.Tests.Tasks;

/// <summary>The meta-vote reproduction study (tools/experiments/meta-vote) end to end in miniature: library fill, every
/// method, one fine-tune read at several budgets, resume, plots and the Markdown summary.</summary>
[TestFixture]
[NonParallelizable]
public sealed class MetaVoteStudyMiniatureTests
{
    private static readonly string[] Methods = ["k1", "k3", "k5", "random3", "l2", "taylor", "random", "iterative", "dense"];

    private static string Run(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "MetaVoteStudy.dll");
        Assert.That(File.Exists(dll), Is.True, $"{dll} missing from the test output");
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (string.IsNullOrEmpty(host) || !File.Exists(host)) host = "dotnet";
        var psi = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { dll }.Concat(args)) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.That(p.WaitForExit(TimeSpan.FromMinutes(5)), Is.True, "the study did not finish in 5 minutes");
        Assert.That(p.ExitCode, Is.Zero, $"exit {p.ExitCode}: {stderr.Result}\n{stdout.Result}");
        return stdout.Result;
    }

    [Test]
    public void TheStudyRunsEveryMethodResumesWithoutRepeatingWorkAndPlots()
    {
        var dir = TestPaths.TempDir();
        var model = Path.Combine(TestPaths.RepoRoot, "onnx-models", "fmnist-resnet.onnx");
        string[] args = ["--out", dir, "--models", model, "--pool", "3", "--new", "1", "--seeds", "1", "--ratios", "0.5", "--budgets", "2,4",
            "--rounds", "1", "--steps-per-round", "4", "--batch", "16"];
        Run(args);
        var results = Path.Combine(dir, "results.csv");
        var rows = File.ReadAllLines(results).Skip(1).Select(l => l.Split(',')).ToArray();
        // model,seed,ratio,"a,b,c",method,steps,accuracy,...: the quoted task adds two fields.
        var byMethod = rows.GroupBy(r => r[6]).ToDictionary(g => g.Key, g => g.Select(r => int.Parse(r[7], CultureInfo.InvariantCulture)).Order().ToArray());
        foreach (var m in Methods.Where(m => m != "iterative"))
            Assert.That(byMethod.GetValueOrDefault(m), Is.EqualTo(new[] { 0, 2, 4 }), $"{m}: evaluated right after the cut and at each budget");
        Assert.That(byMethod["iterative"], Is.EqualTo(new[] { 4 }), "iterative reference: its own step count");
        foreach (var r in rows)
        {
            double acc = double.Parse(r[8], CultureInfo.InvariantCulture);
            Assert.That(acc, Is.InRange(0.0, 1.0));
            long parameters = long.Parse(r[9], CultureInfo.InvariantCulture);
            Assert.That(parameters, r[6] == "dense" ? Is.GreaterThan(70_000) : Is.LessThan(40_000), $"{r[6]} parameters");
        }
        Assert.That(Directory.GetFiles(Path.Combine(dir, "lib-fmnist-resnet-0.5", "entries"), "*.json"), Has.Length.EqualTo(3));
        var neighbors = File.ReadAllLines(Path.Combine(dir, "neighbors.csv"));
        Assert.That(neighbors.Count(l => l.Contains(",k3:", StringComparison.Ordinal)), Is.EqualTo(3), "K = 3 records its three voters");

        // Resuming: every method is done, so nothing runs again and no row is added.
        var before = File.ReadAllText(results);
        Run(args);
        Assert.That(File.ReadAllText(results), Is.EqualTo(before));

        Run("plot", "--out", dir);
        var svg = Path.Combine(dir, "accuracy-fmnist-resnet-0.5.svg");
        Assert.That(XDocument.Load(svg).Root!.Name.LocalName, Is.EqualTo("svg"));
        Assert.That(File.ReadAllText(svg), Does.Contain("adapt, K = 3 nearest").And.Contain("one-shot L2"));
        Assert.That(File.Exists(Path.Combine(dir, "overlap-fmnist-resnet-0.5.svg")), Is.True);

        var summarize = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        summarize.ArgumentList.Add(Path.Combine(TestPaths.RepoRoot, "tools", "experiments", "meta-vote", "summarize.py"));
        summarize.ArgumentList.Add(dir);
        using var py = Process.Start(summarize)!;
        var md = py.StandardOutput.ReadToEnd();
        py.WaitForExit();
        Assert.That(py.ExitCode, Is.Zero, py.StandardError.ReadToEnd());
        Assert.That(md, Does.Contain("| adapt K=3 |").And.Contain("Paired difference to one-shot L2").And.Contain("Mask overlap vs task similarity"));
    }
}
