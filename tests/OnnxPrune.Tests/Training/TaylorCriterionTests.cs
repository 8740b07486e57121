using OnnxPrune.Analysis;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Pruning.Importance;
using OnnxPrune.Tensors;
using OnnxPrune.Training;

namespace OnnxPrune.Tests.Training;

/// <summary>First-order Taylor importance from the training graph's gradients.</summary>
public class TaylorCriterionTests
{
    private const int In = 4, Hidden = 5, Classes = 3, Batch = 8;

    /// <summary>x[N,4] → Gemm(W1 [5,4], b1) → Relu → Gemm(W2 [3,5], b2) → logits.</summary>
    private static (OnnxModel Model, float[] W1, float[] B1, float[] W2, float[] B2) Mlp(int seed)
    {
        var r = new Random(seed);
        float[] V(int n) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
        var (w1, b1, w2, b2) = (V(Hidden * In), V(Hidden), V(Classes * Hidden), V(Classes));
        var b = new GraphBuilder(opset: 17);
        var x = b.Input("x", ElementType.Float, "N", In);
        var h = b.Relu(b.Gemm(x, b.Initializer("w1", w1, Hidden, In), b.Initializer("b1", b1, Hidden), transB: true));
        var logits = b.Gemm(h, b.Initializer("w2", w2, Classes, Hidden), b.Initializer("b2", b2, Classes), transB: true);
        b.Output(logits, ElementType.Float, "N", Classes);
        return (b.Build(), w1, b1, w2, b2);
    }

    private static (float[] X, long[] Y) Data(int seed)
    {
        var r = new Random(seed);
        return (Enumerable.Range(0, Batch * In).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray(), Enumerable.Range(0, Batch).Select(_ => (long)r.Next(Classes)).ToArray());
    }

    /// <summary>Mean softmax cross-entropy of the MLP in double precision (the finite-difference reference).</summary>
    private static double Loss(double[] w1, double[] b1, double[] w2, double[] b2, float[] x, long[] y)
    {
        double total = 0;
        for (int n = 0; n < Batch; n++)
        {
            var h = new double[Hidden];
            for (int j = 0; j < Hidden; j++)
            {
                double s = b1[j];
                for (int i = 0; i < In; i++) s += w1[j * In + i] * x[n * In + i];
                h[j] = Math.Max(s, 0);
            }
            var z = new double[Classes];
            for (int c = 0; c < Classes; c++)
            {
                z[c] = b2[c];
                for (int j = 0; j < Hidden; j++) z[c] += w2[c * Hidden + j] * h[j];
            }
            double max = z.Max(), lse = max + Math.Log(z.Sum(v => Math.Exp(v - max)));
            total += lse - z[y[n]];
        }
        return total / Batch;
    }

    [Test]
    public async Task ScoresEqualTheSumOfAbsWeightTimesGradientOverTheUnitsCoupledSlices()
    {
        var (model, w1, b1, w2, b2) = Mlp(3);
        var batches = new[] { Data(10), Data(11) };
        var provider = DataProviders.FromBatches(batches.Select(d => new DataBatch(
            new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray<float>(d.X, Batch, In) },
            new Dictionary<string, Tensor> { ["label"] = Tensor.FromArray<long>(d.Y, Batch) })));
        var groups = DependencyAnalyzer.Analyze(model).Groups;
        var hidden = groups.Single(g => !g.IsBlocked);
        Assert.That(hidden.Size, Is.EqualTo(Hidden));

        var scores = await new TaylorCriterion(batches: 2, ScoreNormalization.None).ScoreAsync(new ImportanceContext { Model = model, Groups = groups, Data = provider });

        // Reference: central finite differences of the double-precision loss, per batch, |w·g| summed per hidden unit.
        var expected = new double[Hidden];
        var p = new[] { w1, b1, w2, b2 }.Select(a => a.Select(v => (double)v).ToArray()).ToArray();
        foreach (var (x, y) in batches)
            for (int t = 0; t < 4; t++)
                for (int e = 0; e < p[t].Length; e++)
                {
                    const double H = 1e-4;
                    double keep = p[t][e];
                    p[t][e] = keep + H; double up = Loss(p[0], p[1], p[2], p[3], x, y);
                    p[t][e] = keep - H; double down = Loss(p[0], p[1], p[2], p[3], x, y);
                    p[t][e] = keep;
                    double contribution = Math.Abs(keep * (up - down) / (2 * H));
                    int unit = t switch { 0 => e / In, 1 => e, 2 => e % Hidden, _ => -1 };
                    if (unit >= 0) expected[unit] += contribution;
                }
        Assert.That(scores[hidden.Id], Is.EqualTo(expected).Within(1e-3), "w1 rows + b1 + w2 columns of each hidden unit");
        Assert.That(expected.Distinct().Count(), Is.EqualTo(Hidden), "the reference separates the units");
    }

    [Test]
    public void NeedsData()
    {
        var (model, _, _, _, _) = Mlp(1);
        var context = ImportanceContext.For(model, DependencyAnalyzer.Analyze(model).Groups);
        Assert.ThrowsAsync<ArgumentException>(async () => await new TaylorCriterion().ScoreAsync(context));
    }

    [Test]
    public async Task PrunesTheEmbeddedResNetThroughThePipelineAndTheCli()
    {
        var path = Path.Combine(TestPaths.RepoRoot, "onnx-models", "fmnist-resnet.onnx");
        var model = OnnxModel.Load(path);
        var data = OnnxPrune.Tasks.TaskDataSets.CriterionData(model, "fashion-mnist", [0, 3, 7], seed: 1, batchSize: 16, batches: 2);
        var report = await Pruner.Default.PruneAsync(model, new PruneOptions { Criterion = new TaylorCriterion(batches: 2), Budget = new UniformRatioBudget(0.5), Data = data });
        Assert.That(report.Criterion, Is.EqualTo("taylor"));
        Assert.That(report.ParameterRatio, Is.LessThan(0.4));
        Assert.That(report.Groups.Count(g => g.Status == GroupStatus.Pruned), Is.GreaterThan(0));

        var dir = Directory.CreateTempSubdirectory("taylor-cli");
        try
        {
            var outPath = Path.Combine(dir.FullName, "p.onnx");
            var (code, stdout, stderr) = TrainingCliTests.Cli("prune", path, outPath, "--criterion", "taylor", "--data", "fashion-mnist", "--classes", "0,3,7", "--ratio", "0.5");
            Assert.That(code, Is.EqualTo(0), stderr);
            Assert.That(stdout, Does.Contain("criterion taylor"));
            (code, stdout, stderr) = TrainingCliTests.Cli("prune", path, outPath, "--criterion", "activation", "--data", "fashion-mnist", "--ratio", "0.5");
            Assert.That(code, Is.EqualTo(0), stderr);
            Assert.That(stdout, Does.Contain("criterion activation"));
            (code, _, stderr) = TrainingCliTests.Cli("prune", path, outPath, "--criterion", "taylor", "--ratio", "0.5");
            Assert.That(code, Is.EqualTo(OnnxPrune.Cli.ExitCodes.Usage));
            Assert.That(stderr, Does.Contain("--data"));
        }
        finally { dir.Delete(true); }
    }
}
