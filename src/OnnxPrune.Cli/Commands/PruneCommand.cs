using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Pruning.Importance;

namespace OnnxPrune.Cli.Commands;

/// <summary>
/// <c>onnxprune prune IN OUT [--criterion C [--data D [--classes 0,3,7]] | --scores FILE] [--ratio R | --target-params N | --target-macs N | --target-bytes N] [--global] [--per-cost]
/// [--round-to N] [--min-keep N] [--protect NODE ...] [--seed S] [--dim NAME=VALUE ...] [--report FILE.json] [--verify] [--allow-interface-change]</c>.
/// </summary>
internal static class PruneCommand
{
    public static Command Create()
    {
        var input = new Argument<FileInfo>("input") { Description = "The ONNX model to prune." };
        var output = new Argument<FileInfo>("output") { Description = "Where to write the pruned model (written atomically)." };
        var criterion = new Option<string>("--criterion")
        {
            Description = "Importance criterion: l1, l2, bn (groups without BN use l2), fpgm, random; with --data: taylor (|w·∂L/∂w|), activation (mean |a|).",
            DefaultValueFactory = _ => "l2",
        };
        criterion.AcceptOnlyFromAmong([.. OnnxPrune.Tasks.TaskDataSets.CriterionNames]);
        var data = new Option<string?>("--data") { Description = "Data set for taylor/activation: fashion-mnist, fashion-mnist:FOLDER, npy:FOLDER (4 shuffled train batches of 32)." };
        var classes = new Option<string?>("--classes") { Description = "With --data: score on these classes only, e.g. 0,3,7." };
        var scoresFile = new Option<FileInfo?>("--scores")
        {
            Description = "Use given per-unit scores instead of a criterion: JSON {\"fingerprint\": \"HEX\", \"groups\": {\"GROUP_KEY\": [scores…]}} (keys and fingerprint as `analyze --json` prints them; e.g. task-library votes); a file made for another model is refused; groups not listed stay whole.",
        };
        var ratio = new Option<double?>("--ratio") { Description = "Fraction of units to remove: per group, or across all groups with --global." };
        var targetParams = new Option<long?>("--target-params") { Description = "Prune until the model has at most N parameters." };
        var targetMacs = new Option<long?>("--target-macs") { Description = "Prune until the model needs at most N MACs per inference (see --dim)." };
        var targetBytes = new Option<long?>("--target-bytes") { Description = "Prune until the weights take at most N bytes." };
        var global = new Option<bool>("--global") { Description = "With --ratio: one threshold across all groups by normalised score." };
        var perCost = new Option<bool>("--per-cost") { Description = "With a target: rank units by score per unit of the target's cost instead of by score." };
        var roundTo = new Option<long>("--round-to") { Description = "Kept counts are multiples of N (never 0).", DefaultValueFactory = _ => 1 };
        var minKeep = new Option<long>("--min-keep") { Description = "Every group keeps at least N units.", DefaultValueFactory = _ => 1 };
        var protect = new Option<string[]>("--protect")
        {
            Description = "Node (or weight) names never pruned.",
            AllowMultipleArgumentsPerToken = true,
            DefaultValueFactory = _ => Array.Empty<string>(),
        };
        var seed = new Option<long>("--seed") { Description = "Seed for the random criterion, tie-breaks and verification inputs.", DefaultValueFactory = _ => 0 };
        var dims = new Option<string[]>("--dim")
        {
            Description = "Value of a symbolic input dim for MAC counting, NAME=VALUE (repeatable; the batch defaults to 1; same grammar as run/bench).",
            DefaultValueFactory = _ => Array.Empty<string>(),
        };
        var report = new Option<FileInfo?>("--report") { Description = "Write a JSON report here." };
        var verify = new Option<bool>("--verify")
        {
            Description = "Compare the pruned model with the masked original (removed units zeroed) on 2 seeded random inputs with ONNX Runtime; " +
                          "exit code 8 when the max relative difference exceeds 1e-4 (the model is still written, for inspection).",
        };
        var allowInterface = new Option<bool>("--allow-interface-change")
        {
            Description = "Let pruning change graph input/output sizes (e.g. a KV cache's head count); declared shapes are rewritten and whatever feeds the model must use the new sizes.",
        };
        var command = new Command("prune", "Structurally prune a model: analyse, score, plan a budget, cut, save, report.")
        {
            input, output, criterion, data, classes, scoresFile, ratio, targetParams, targetMacs, targetBytes, global, perCost, roundTo, minKeep, protect, seed, dims, report, verify, allowInterface,
        };
        command.SetAction(async (parse, ct) =>
        {
            var ranking = parse.GetValue(perCost) ? UnitRanking.ScorePerCost : UnitRanking.Score;
            var budget = PruningBudget.Select(parse.GetValue(ratio), parse.GetValue(global), parse.GetValue(targetParams), parse.GetValue(targetMacs), parse.GetValue(targetBytes), ranking);
            long s = parse.GetValue(seed);
            var inPath = parse.GetValue(input)!.FullName;
            var outPath = parse.GetValue(output)!.FullName;
            var model = OnnxModel.Load(inPath);
            var criterionName = parse.GetValue(criterion)!;
            bool needsData = parse.GetValue(scoresFile) is null && OnnxPrune.Tasks.TaskDataSets.CriterionNeedsData(criterionName);
            if (needsData && parse.GetValue(data) is null) throw new ArgumentException($"--criterion {criterionName} needs --data.");
            var options = new PruneOptions
            {
                Criterion = parse.GetValue(scoresFile) is { } file ? ExternalScores.Load(file.FullName) : OnnxPrune.Tasks.TaskDataSets.CreateCriterion(criterionName, s),
                Data = needsData ? OnnxPrune.Tasks.TaskDataSets.CriterionData(model, parse.GetValue(data)!, OnnxPrune.Data.TaskData.ParseClasses(parse.GetValue(classes)), unchecked((int)s)) : null,
                Budget = budget,
                Planner = new PlannerOptions
                {
                    RoundTo = parse.GetValue(roundTo),
                    MinKeep = parse.GetValue(minKeep),
                    ProtectedNodes = parse.GetValue(protect)!,
                    Seed = s,
                    Ranking = ranking,
                },
                Cost = new CostOptions { Dims = DimBindings.Parse(parse.GetValue(dims)) },
            };
            if (parse.GetValue(verify))
                options = options with { Verify = new VerificationOptions { Seed = unchecked((int)s), Dims = options.Cost.Dims } };
            var pruner = parse.GetValue(allowInterface) ? Pruner.With(new AnalysisOptions { AllowInterfaceChange = true }) : Pruner.Default;
            var result = await pruner.PruneAsync(model, options, new StderrProgress(), ct);
            model.Save(outPath);
            if (parse.GetValue(report) is { } reportFile) WriteReport(reportFile.FullName, inPath, outPath, result);
            PrintSummary(inPath, outPath, result);
            return result.Verification is { Passed: false } ? ExitCodes.VerificationFailed : ExitCodes.Ok;
        });
        return command;
    }

    private static readonly JsonSerializerOptions ReportJson = new(Json.Options) { Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) } };

    internal static void WriteReport(string path, string inPath, string outPath, PruneReport report)
    {
        var node = JsonSerializer.SerializeToNode(report, ReportJson)!.AsObject();
        node.Insert(0, "input", inPath);
        node.Insert(1, "output", outPath);
        var text = node.ToJsonString(ReportJson);
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, text + "\n");
        File.Move(tmp, path, overwrite: true);
    }

    private static void PrintSummary(string inPath, string outPath, PruneReport r)
    {
        int pruned = r.Groups.Count(g => g.Status == GroupStatus.Pruned);
        int blocked = r.Groups.Count(g => g.Status == GroupStatus.Blocked);
        Console.WriteLine($"Pruned {Path.GetFileName(inPath)} → {outPath}");
        Console.WriteLine($"  criterion {r.Criterion}, {r.Budget}; {pruned} of {r.Groups.Count} groups pruned, {blocked} blocked");
        Console.WriteLine($"  parameters {r.Before.Parameters,14:N0} → {r.After.Parameters,14:N0}  ({r.ParameterRatio:P1})");
        if (r.MacsComplete) Console.WriteLine($"  MACs       {r.Before.Macs,14:N0} → {r.After.Macs,14:N0}  ({r.MacsRatio:P1})");
        else
        {
            // Unnamed dims show as INPUT[AXIS]: no --dim can name them, so they are listed apart instead of as "--dim  =VALUE".
            var named = r.MissingDims.Where(d => !d.EndsWith(']')).ToArray();
            var unnamed = r.MissingDims.Where(d => d.EndsWith(']')).ToArray();
            var hint = named.Length > 0 ? $"give --dim {string.Join(" ", named.Select(d => d + "=VALUE"))}" : "";
            if (unnamed.Length > 0) hint += (hint.Length > 0 ? "; " : "") + $"unnamed dynamic dims {string.Join(", ", unnamed)} (export them with a name or a fixed size)";
            Console.WriteLine($"  MACs       unknown: {hint} (counted part: {r.Before.Macs:N0} → {r.After.Macs:N0})");
        }
        Console.WriteLine($"  bytes      {r.Before.WeightBytes,14:N0} → {r.After.WeightBytes,14:N0}  ({r.WeightBytesRatio:P1})");
        Console.WriteLine($"  time       {r.TimingsMs.Values.Sum():N0} ms ({string.Join(", ", r.TimingsMs.Select(t => $"{t.Key} {t.Value:N0}"))})");
        if (r.Verification is { } v)
            Console.WriteLine($"  verify     max relative difference {v.MaxRelativeDifference:E2} over {v.Samples} inputs: {(v.Passed ? "ok" : $"FAILED (> {v.Tolerance:E0})")}");
    }

    /// <summary>One line per stage on stderr, plus progress steps of 25%.</summary>
    private sealed class StderrProgress : IProgress<PruneProgress>
    {
        private PruneStage? _stage;
        private int _quarter = -1;

        public void Report(PruneProgress value)
        {
            int quarter = value.Fraction is double f ? (int)(f * 4) : -1;
            if (value.Stage == _stage && quarter == _quarter) return;
            if (value.Stage == _stage && value.Fraction is null) return;
            _stage = value.Stage;
            _quarter = quarter;
            Console.Error.WriteLine($"[{value.Stage.ToString().ToLowerInvariant()}] {value.Message}{(value.Fraction is double g ? $" ({g:P0})" : "")}");
        }
    }
}
