// The meta-vote reproduction study (issue 11, item 7), one process per model: fills a task library per sparsity by
// iterative pruning of pool tasks, then for every held-out task × seed × sparsity prunes the base model once with each
// method and fine-tunes it, reading the test accuracy off ONE run at each budget (25/50/100/200 steps). Seeded and
// resumable: results.csv gets a method's rows only when the method finished, and a method whose rows exist is skipped.
// Usage: see ../README.md (`run.sh` runs it per model in the background; `plot` makes the SVGs from results.csv).
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxPrune.Analysis;
using OnnxPrune.Data;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Pruning.Importance;
using OnnxPrune.Runtime;
using OnnxPrune.Tasks;
using OnnxPrune.Training;
using MetaVote;
using OnnxPrune;

var inv = CultureInfo.InvariantCulture;
var opts = Options.Parse(args);
if (opts.Command == "plot") { Plots.Write(opts.Out); return 0; }
Directory.CreateDirectory(opts.Out);

var allTasks = Options.AllTasks(opts.TaskSeed);
var pool = allTasks.Take(opts.Pool).ToArray();
var newTasks = allTasks.Skip(opts.Pool).Take(opts.New).ToArray();
File.WriteAllLines(Path.Combine(opts.Out, "pool-tasks.txt"), pool.Select(Options.Describe));
File.WriteAllLines(Path.Combine(opts.Out, "new-tasks.txt"), newTasks.Select(Options.Describe));
var csv = new ResultsFile(Path.Combine(opts.Out, "results.csv"),
    "model,seed,ratio,task,method,steps,accuracy,params,macs,cpu_s,wall_s");
var neighborsCsv = new ResultsFile(Path.Combine(opts.Out, "neighbors.csv"),
    "model,seed,ratio,task,rank,neighbor,similarity,vote_iou,own_iou");
var latencyCsv = new ResultsFile(Path.Combine(opts.Out, "latency.csv"), "model,ratio,method,params,macs,median_ms,p10_ms,p90_ms");
var fullTrain = TaskData.Load("fashion-mnist", train: true);
var fullTest = TaskData.Load("fashion-mnist", train: false);
var log = (string s) => Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {s}");
var started = Stopwatch.StartNew();

foreach (var modelPath in opts.Models)
{
    var name = Path.GetFileNameWithoutExtension(modelPath);
    var baseModel = OnnxModel.Load(modelPath);
    var libraries = new Dictionary<double, TaskLibrary>();
    foreach (var ratio in opts.Ratios)
    {
        var lib = TaskLibrary.OpenOrCreate(Path.Combine(opts.Out, $"lib-{name}-{ratio.ToString(inv)}"));
        log($"{name}: filling {lib.Root} ({pool.Length} tasks, {opts.Rounds} × {opts.StepsPerRound} steps, {opts.FillCriterion})");
        var items = await TaskPruner.FillAsync(lib, baseModel, new LibraryFillOptions
        {
            Tasks = pool.Select((c, i) => new TaskSpec(i, i + 1, c, null)).ToArray(),
            Template = new LibraryAddOptions
            {
                Classes = [0], Budget = new UniformRatioBudget(ratio), Rounds = opts.Rounds, StepsPerRound = opts.StepsPerRound,
                Criterion = opts.FillCriterion, Seed = 1, BatchSize = opts.Batch, Embeddings = [TaskEmbeddingKinds.Features],
            },
        }, new SynchronousProgress<TaskProgress>(p => { if (p.Stage == "done") log($"  {p.Message}"); }));
        log($"{name}: library {lib.Root}: {items.Count(i => !i.Skipped)} added, {items.Count(i => i.Skipped)} present");
        libraries[ratio] = lib;
    }

    foreach (var seed in opts.Seeds)
    {
        for (int t = 0; t < newTasks.Length; t++)
        {
            var classes = newTasks[t];
            var task = Options.Describe(classes);
            var train10 = TaskData.ForTask(fullTrain, classes, 10);
            var trainK = TaskData.ForTask(fullTrain, classes, classes.Length);
            var testK = TaskData.ForTask(fullTest, classes, classes.Length);
            var embeddings = new Lazy<IReadOnlyDictionary<string, float[]>>(() => TaskEmbedder.EmbedAsync(baseModel, fullTrain, classes,
                [TaskEmbeddingKinds.Features], new EmbeddingOptions(), CancellationToken.None).GetAwaiter().GetResult());
            bool measureLatency = seed == opts.Seeds[0] && t == 0;

            // Fine-tunes a pruned model (task head already cut) and writes one row per budget, plus the accuracy before.
            async Task Tune(string method, double ratio, OnnxModel pruned, double cpuBefore, Stopwatch wall)
            {
                var evals = new SortedDictionary<int, double>();
                var tuned = await FineTuner.Default.FinetuneAsync(pruned, new FinetuneOptions
                {
                    Train = trainK, Test = testK, EvaluateBefore = true, RecalibrationBatches = opts.Recalibrate,
                    Trainer = new TrainerOptions
                    {
                        Steps = opts.Budgets.Max(), BatchSize = opts.Batch, Seed = seed, IntraOpThreads = opts.Threads,
                        ProgressInterval = opts.Budgets.Max(), EvaluationSteps = opts.Budgets,
                    },
                }, new SynchronousProgress<FinetuneProgress>(p => { if (p.Training is { Evaluation: { } e } tp) evals[tp.Step] = e.Accuracy; }));
                evals[0] = tuned.Report.Before!.Accuracy;
                var cost = CostModel.Of(pruned).Total;
                double cpu = CpuSeconds() - cpuBefore;
                csv.Append(evals.Select(kv => string.Join(',', name, seed, ratio.ToString(inv), $"\"{task}\"", method, kv.Key,
                    kv.Value.ToString("F4", inv), cost.Parameters, cost.Macs, cpu.ToString("F2", inv), wall.Elapsed.TotalSeconds.ToString("F2", inv))));
                if (measureLatency) latencyCsv.Append([Latency(name, ratio, method, tuned.Model, cost)]);
                log($"{name} s{seed} r{ratio} {task} {method}: {evals[0]:P1} → {string.Join(" ", evals.Where(kv => kv.Key > 0).Select(kv => $"{kv.Key}:{kv.Value:P2}"))} ({cpu:F0} CPU s)");
            }

            if (opts.Methods.Contains("dense") && !csv.Has(name, seed, 0, task, "dense"))
            {
                var (cpu0, wall) = (CpuSeconds(), Stopwatch.StartNew());
                var m = OnnxModel.FromBytes(baseModel.ToBytes(), modelPath);
                TaskAdapter.CutHead(m, classes);
                await Tune("dense", 0, m, cpu0, wall);
            }
            foreach (var ratio in opts.Ratios)
            {
                var lib = libraries[ratio];
                var budget = new UniformRatioBudget(ratio);
                var entries = lib.ForBaseModel(ModelFingerprint.Of(baseModel).Hex).Entries;
                foreach (var method in opts.Methods.Where(m => m != "dense"))
                {
                    if (csv.Has(name, seed, ratio, task, method)) continue;
                    var (cpu0, wall) = (CpuSeconds(), Stopwatch.StartNew());
                    if (method == "iterative")
                    {
                        // The expensive reference: the new task pruned the way the pool was (rounds of prune + fine-tune),
                        // on the base model with its head cut to the task like every other arm.
                        var headCut = OnnxModel.FromBytes(baseModel.ToBytes(), modelPath);
                        TaskAdapter.CutHead(headCut, classes);
                        var it = await TaskPruner.PruneIterativelyAsync(headCut, new LibraryAddOptions
                        {
                            Classes = classes, Budget = budget, Rounds = opts.Rounds, StepsPerRound = opts.StepsPerRound,
                            Criterion = opts.FillCriterion, Seed = seed, BatchSize = opts.Batch,
                        });
                        var cost = CostModel.Of(it.Model).Total;
                        double cpu = CpuSeconds() - cpu0;
                        csv.Append([string.Join(',', name, seed, ratio.ToString(inv), $"\"{task}\"", method, it.Steps, it.Accuracy.Accuracy.ToString("F4", inv),
                            cost.Parameters, cost.Macs, cpu.ToString("F2", inv), wall.Elapsed.TotalSeconds.ToString("F2", inv))]);
                        // Mask overlap vs task similarity: the task's own expensive mask against every pool entry's.
                        var own = it.Masks.ToDictionary(kv => kv.Key, kv => kv.Value.Kept, StringComparer.Ordinal);
                        var query = new TaskQuery(new TaskDescriptor { DataSet = "fashion-mnist", Classes = classes }, embeddings.Value);
                        var ranked = TaskSimilarity.NearestTasks(query, entries, entries.Count, SimilarityKind.Features);
                        neighborsCsv.Append(ranked.Select((n, i) => string.Join(',', name, seed, ratio.ToString(inv), $"\"{task}\"", i + 1,
                            $"\"{n.Entry.Task.Describe()}\"", n.Similarity.ToString("F5", inv), "", ScoreMask.Agreement(own, n.Entry).IoU.ToString("F4", inv))));
                        log($"{name} s{seed} r{ratio} {task} iterative: {it.Accuracy.Accuracy:P2} after {it.Steps} steps ({cpu:F0} CPU s)");
                        continue;
                    }
                    OnnxModel pruned;
                    if (method is "l2" or "taylor" or "random")
                    {
                        pruned = OnnxModel.FromBytes(baseModel.ToBytes(), modelPath);
                        IImportanceCriterion criterion = method switch
                        {
                            "l2" => new MagnitudeCriterion(2),
                            "taylor" => new TaylorCriterion(),
                            _ => Criteria.Create("random", seed),
                        };
                        await Pruner.Default.PruneAsync(pruned, new PruneOptions
                        {
                            Criterion = criterion, Budget = budget, Planner = new PlannerOptions { Seed = seed },
                            Data = method == "taylor" ? DataProviders.FromDataset(train10, 32, 4, seed) : null,
                        });
                        TaskAdapter.CutHead(pruned, classes);
                    }
                    else
                    {
                        IReadOnlyList<TaskNeighbor> neighbors;
                        if (method.StartsWith("random", StringComparison.Ordinal))
                        {
                            int k = int.Parse(method["random".Length..], inv);
                            var shuffled = entries.OrderBy(e => e.Id, StringComparer.Ordinal).ToArray();
                            new Random(seed * 1000 + t).Shuffle(shuffled);
                            neighbors = shuffled.Take(k).Select(e => new TaskNeighbor(e, 0)).ToArray();
                        }
                        else
                        {
                            int k = int.Parse(method[1..], inv);
                            var query = new TaskQuery(new TaskDescriptor { DataSet = "fashion-mnist", Classes = classes }, embeddings.Value);
                            neighbors = TaskSimilarity.NearestTasks(query, entries, k, SimilarityKind.Features);
                        }
                        var cut = await TaskAdapter.CutAsync(baseModel, neighbors, new TaskCutOptions
                        {
                            Budget = budget, Seed = seed, TaskHeadClasses = classes,
                            Weighting = method.StartsWith("random", StringComparison.Ordinal) ? VoteWeighting.Uniform : VoteWeighting.Similarity,
                        });
                        pruned = cut.Model;
                        neighborsCsv.Append(neighbors.Select((n, i) => string.Join(',', name, seed, ratio.ToString(inv), $"\"{task}\"", method + ":" + (i + 1),
                            $"\"{n.Entry.Task.Describe()}\"", n.Similarity.ToString("F5", inv), cut.Agreement[i].IoU.ToString("F4", inv), "")));
                    }
                    await Tune(method, ratio, pruned, cpu0, wall);
                }
            }
        }
    }
}
log($"finished in {started.Elapsed.TotalMinutes:F1} min");
return 0;

static double CpuSeconds() => Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;

static string Latency(string model, double ratio, string method, OnnxModel m, ModelCost cost)
{
    using var session = OrtSessions.Create(m, new SessionSettings { IntraOpThreads = 1, AllowSpinning = false });
    var input = session.InputMetadata.First();
    var tensor = new DenseTensor<float>([1, 1, 28, 28]);
    var feeds = new[] { NamedOnnxValue.CreateFromTensor(input.Key, tensor) };
    var stats = LatencyBenchmark.Measure(() => { using var r = session.Run(feeds); }, warmup: 20, runs: 200);
    var inv = CultureInfo.InvariantCulture;
    return string.Join(',', model, ratio.ToString(inv), method, cost.Parameters, cost.Macs, stats.MedianMs.ToString("F4", inv),
        stats.P10Ms.ToString("F4", inv), stats.P90Ms.ToString("F4", inv));
}

