using System.Text.Json;
using OnnxPrune.Graph;
using OnnxPrune.Tests.Training;

namespace OnnxPrune.Tests.EndToEnd;

/// <summary>The CI miniature of the meta-vote pipeline through the CLI: fill a library of 3 tasks with tiny step counts,
/// list, merge and search it, adapt a new task with its own head, and check the adapted model runs, is smaller and
/// outputs one logit per task class.</summary>
public class AdaptMiniatureTests
{
    [Test]
    public void FillSimilarAdaptEndToEnd()
    {
        var model = Path.Combine(TestPaths.RepoRoot, "onnx-models", "fmnist-resnet.onnx");
        var dir = Directory.CreateTempSubdirectory("adapt-mini");
        try
        {
            var lib = Path.Combine(dir.FullName, "lib");
            var tasks = Path.Combine(dir.FullName, "tasks.txt");
            File.WriteAllText(tasks, "# three pool tasks\n0,3,7\n1,2,4\n5,8,9  bags-and-boots\n");
            var (code, stdout, stderr) = TrainingCliTests.Cli("library", "fill", lib, "--model", model, "--tasks", tasks, "--shard", "0/2",
                "--ratio", "0.5", "--rounds", "2", "--steps-per-round", "3");
            Assert.That(code, Is.EqualTo(0), stderr);
            Assert.That(stdout, Does.Contain("2 added, 0 already present (shard 0/2)"));
            var other = Path.Combine(dir.FullName, "other");
            (code, stdout, stderr) = TrainingCliTests.Cli("library", "fill", other, "--model", model, "--tasks", tasks, "--shard", "1/2",
                "--ratio", "0.5", "--rounds", "2", "--steps-per-round", "3");
            Assert.That(code, Is.EqualTo(0), stderr);
            (code, stdout, stderr) = TrainingCliTests.Cli("library", "merge", lib, other);
            Assert.That(stdout, Does.Contain("1 added"), stderr);
            (code, stdout, _) = TrainingCliTests.Cli("library", "fill", lib, "--model", model, "--tasks", tasks, "--ratio", "0.5", "--rounds", "2", "--steps-per-round", "3");
            Assert.That(stdout, Does.Contain("0 added, 3 already present"), "a restarted fill skips what the library has");

            (code, stdout, stderr) = TrainingCliTests.Cli("library", "list", lib, "--json");
            Assert.That(code, Is.EqualTo(0), stderr);
            using (var listing = JsonDocument.Parse(stdout))
            {
                Assert.That(listing.RootElement.GetArrayLength(), Is.EqualTo(3));
                foreach (var e in listing.RootElement.EnumerateArray())
                {
                    Assert.That(e.GetProperty("steps").GetInt64(), Is.EqualTo(6));
                    Assert.That(e.GetProperty("keptFraction").GetDouble(), Is.EqualTo(0.5).Within(0.05));
                    Assert.That(e.GetProperty("embeddings").GetProperty("features").GetInt32(), Is.GreaterThan(0));
                }
            }

            (code, stdout, stderr) = TrainingCliTests.Cli("library", "similar", lib, "--model", model, "--classes", "0,3,6", "--neighbors", "2", "--embedding", "classes", "--json");
            Assert.That(code, Is.EqualTo(0), stderr);
            using (var similar = JsonDocument.Parse(stdout))
            {
                Assert.That(similar.RootElement.GetArrayLength(), Is.EqualTo(2));
                Assert.That(similar.RootElement[0].GetProperty("similarity").GetDouble(), Is.EqualTo(0.5).Within(1e-9), "{0,3,6} vs {0,3,7}: Jaccard 2/4");
            }

            var adapted = Path.Combine(dir.FullName, "adapted.onnx");
            (code, stdout, stderr) = TrainingCliTests.Cli("adapt", model, adapted, "--library", lib, "--classes", "6,0,3", "--neighbors", "2",
                "--ratio", "0.6", "--steps", "10", "--task-head", "--json");
            Assert.That(code, Is.EqualTo(0), stderr);
            using var report = JsonDocument.Parse(stdout);
            var r = report.RootElement;
            Assert.That(r.GetProperty("neighbors").GetArrayLength(), Is.EqualTo(2));
            Assert.That(r.GetProperty("after").GetProperty("parameters").GetInt64(), Is.LessThan(r.GetProperty("before").GetProperty("parameters").GetInt64() / 2));
            foreach (var n in r.GetProperty("neighbors").EnumerateArray())
                Assert.That(n.GetProperty("agreement").GetDouble(), Is.InRange(0.0, 1.0));
            double after = r.GetProperty("accuracyAfter").GetDouble();

            var tuned = OnnxModel.Load(adapted);
            Assert.That(OnnxPrune.Data.TaskData.OutputClasses(tuned), Is.EqualTo(3), "--task-head: one logit per task class");
            (code, stdout, stderr) = TrainingCliTests.Cli("eval", adapted, "--classes", "6,0,3", "--json");
            Assert.That(code, Is.EqualTo(0), stderr);
            using var eval = JsonDocument.Parse(stdout);
            Assert.That(eval.RootElement.GetProperty("accuracy").GetDouble(), Is.EqualTo(after).Within(1e-9), "the saved model scores what adapt reported");
            Assert.That(after, Is.GreaterThan(0.4), "better than chance (1/3) after 10 steps");
        }
        finally { dir.Delete(true); }
    }
}
