using System.Globalization;
using ScottPlot;

namespace MetaVote;

/// <summary>The study's plots (ScottPlot SVG) from results.csv: test accuracy vs fine-tuning steps per method, mean ± std
/// over tasks × seeds, one plot per model × sparsity; and mask overlap vs task similarity from neighbors.csv.</summary>
static class Plots
{
    public static void Write(string outDir)
    {
        var inv = CultureInfo.InvariantCulture;
        var rows = File.ReadLines(Path.Combine(outDir, "results.csv")).Skip(1).Select(Csv.Split).ToList();
        // model,seed,ratio,task,method,steps,accuracy,...
        var dense = rows.Where(r => r[4] == "dense").ToList();
        foreach (var group in rows.Where(r => r[4] != "dense").GroupBy(r => (Model: r[0], Ratio: r[2])))
        {
            var plot = new Plot();
            var lines = group.Concat(dense.Where(d => d[0] == group.Key.Model)).GroupBy(r => r[4]).OrderBy(g => Order(g.Key));
            foreach (var method in lines)
            {
                var points = method.GroupBy(r => int.Parse(r[5], inv)).OrderBy(g => g.Key)
                    .Select(g => (Step: g.Key, Mean: g.Average(r => double.Parse(r[6], inv) * 100), Std: Std(g.Select(r => double.Parse(r[6], inv) * 100).ToArray())))
                    .ToArray();
                var xs = points.Select(p => (double)p.Step).ToArray();
                var ys = points.Select(p => p.Mean).ToArray();
                if (method.Key == "iterative")
                {
                    var m = plot.Add.Marker(xs[0], ys[0]);
                    m.LegendText = $"iterative ({points[0].Step} steps)";
                    m.MarkerStyle.Size = 10;
                    continue;
                }
                var line = plot.Add.Scatter(xs, ys);
                line.LegendText = Label(method.Key);
                var eb = plot.Add.ErrorBar(xs, ys, points.Select(p => p.Std).ToArray());
                eb.Color = line.Color;
            }
            plot.Title($"{group.Key.Model}: {double.Parse(group.Key.Ratio, inv) * 100:F0} % of units removed");
            plot.XLabel("fine-tuning steps (0 = right after the cut)");
            plot.YLabel("test accuracy, 3-class task (%)");
            plot.ShowLegend(Alignment.LowerRight);
            var file = Path.Combine(outDir, $"accuracy-{group.Key.Model}-{group.Key.Ratio}.svg");
            File.WriteAllText(file, plot.GetSvgXml(720, 480));
            // The same, zoomed on the budgets (the cut's 0-step accuracy hides the differences).
            plot.Axes.SetLimitsX(10, 215);
            var tail = group.Where(r => int.Parse(r[5], inv) >= 25).Select(r => double.Parse(r[6], inv) * 100).ToArray();
            if (tail.Length > 0) plot.Axes.SetLimitsY(Math.Max(0, Percentile(tail, 0.1) - 2), 100);
            File.WriteAllText(Path.Combine(outDir, $"accuracy-{group.Key.Model}-{group.Key.Ratio}-zoom.svg"), plot.GetSvgXml(720, 480));
            Console.WriteLine(file);
        }
        var nPath = Path.Combine(outDir, "neighbors.csv");
        if (!File.Exists(nPath)) return;
        // model,seed,ratio,task,rank,neighbor,similarity,vote_iou,own_iou: own_iou rows are the task's own iterative mask vs every pool entry.
        foreach (var group in File.ReadLines(nPath).Skip(1).Select(Csv.Split).Where(r => r[8].Length > 0).GroupBy(r => (Model: r[0], Ratio: r[2])))
        {
            var plot = new Plot();
            var sc = plot.Add.ScatterPoints(group.Select(r => double.Parse(r[6], inv)).ToArray(), group.Select(r => double.Parse(r[8], inv)).ToArray());
            sc.LegendText = "new task's own mask vs a pool task's";
            plot.Title($"{group.Key.Model}, {double.Parse(group.Key.Ratio, inv) * 100:F0} % removed: mask overlap vs task similarity");
            plot.XLabel("feature similarity of the two tasks (cosine)");
            plot.YLabel("keep-mask IoU");
            var file = Path.Combine(outDir, $"overlap-{group.Key.Model}-{group.Key.Ratio}.svg");
            File.WriteAllText(file, plot.GetSvgXml(560, 420));
            Console.WriteLine(file);
        }
    }

    private static int Order(string method) => Array.IndexOf(new[] { "k1", "k3", "k5", "random3", "l2", "taylor", "random", "iterative", "dense" }, method) is var i and >= 0 ? i : 99;

    private static string Label(string method) => method switch
    {
        "k1" or "k3" or "k5" => $"adapt, K = {method[1..]} nearest",
        "random3" => "adapt, 3 random tasks",
        "l2" => "one-shot L2",
        "taylor" => "one-shot Taylor",
        "random" => "random mask",
        "dense" => "dense (not pruned)",
        _ => method,
    };

    private static double Std(double[] v)
    {
        if (v.Length < 2) return 0;
        double m = v.Average();
        return Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Length - 1));
    }

    private static double Percentile(double[] v, double q)
    {
        var s = v.Order().ToArray();
        return s[(int)Math.Clamp(Math.Floor(q * (s.Length - 1)), 0, s.Length - 1)];
    }
}

static class Csv
{
    /// <summary>Splits a line of our CSVs (fields quoted only when they hold commas, no escaped quotes).</summary>
    public static string[] Split(string line)
    {
        var fields = new List<string>();
        int i = 0;
        while (i <= line.Length)
        {
            if (i < line.Length && line[i] == '"')
            {
                int end = line.IndexOf('"', i + 1);
                fields.Add(line[(i + 1)..end]);
                i = end + 2;
            }
            else
            {
                int end = line.IndexOf(',', i);
                if (end < 0) end = line.Length;
                fields.Add(line[i..end]);
                i = end + 1;
            }
        }
        return fields.ToArray();
    }
}
