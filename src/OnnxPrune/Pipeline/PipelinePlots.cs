using ScottPlot;

namespace OnnxPrune.Pipeline;

/// <summary>The report's plots (ScottPlot, SVG) and the report files.</summary>
public static class PipelinePlots
{
    private const int Width = 560, Height = 380;

    /// <summary>The plots for <paramref name="report"/>: accuracy versus fine-tune steps (when a step fine-tuned with
    /// evaluation), and latency and size per stage (when the pipeline evaluated). Each is (title, file name, SVG).</summary>
    public static IReadOnlyList<(string Title, string File, string Svg)> Make(PipelineReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var plots = new List<(string, string, string)>();
        if (report.Steps.FirstOrDefault(s => s.History is { Count: > 0 }) is { History: { } history })
        {
            var plot = new Plot();
            var line = plot.Add.Scatter(history.Select(h => (double)h.Step).ToArray(), history.Select(h => h.Accuracy * 100).ToArray());
            line.LegendText = "test accuracy";
            plot.Title("Accuracy vs fine-tune steps");
            plot.XLabel("step");
            plot.YLabel("accuracy (%)");
            plots.Add(("Accuracy vs fine-tune steps", "accuracy.svg", plot.GetSvgXml(Width, Height)));
        }
        if (report.Evaluation is { Stages.Count: > 0 } e)
        {
            var names = e.Stages.Select(s => s.Stage).ToArray();
            if (e.Stages.Any(s => s.LatencyMedianMs > 0))
                plots.Add(("Latency per stage", "latency.svg", Bars("Latency per stage (ORT CPU, 1 thread)", "median latency (ms)", names, e.Stages.Select(s => s.LatencyMedianMs).ToArray())));
            plots.Add(("Size per stage", "size.svg", Bars("Model size per stage", "file size (KiB)", names, e.Stages.Select(s => s.Bytes / 1024.0).ToArray())));
        }
        return plots;
    }

    private static string Bars(string title, string yLabel, string[] names, double[] values)
    {
        var plot = new Plot();
        plot.Add.Bars(values);
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, names.Length).Select(i => (double)i).ToArray(), names);
        plot.Axes.Margins(bottom: 0);
        plot.Title(title);
        plot.YLabel(yLabel);
        return plot.GetSvgXml(Width, Height);
    }

    /// <summary>Writes report.json, report.md, report.html and the plots' SVG files into <paramref name="outDir"/>
    /// (each atomically); returns the JSON report's path.</summary>
    public static string WriteReports(PipelineReport report, string outDir)
    {
        ArgumentNullException.ThrowIfNull(report);
        Directory.CreateDirectory(outDir);
        var plots = Make(report);
        foreach (var (_, file, svg) in plots) PipelineRunner.WriteAtomic(Path.Combine(outDir, file), svg);
        PipelineRunner.WriteAtomic(Path.Combine(outDir, "report.md"), report.ToMarkdown(plots.Select(p => (p.Title, p.File)).ToList()));
        PipelineRunner.WriteAtomic(Path.Combine(outDir, "report.html"), report.ToHtml(plots.Select(p => (p.Title, p.Svg)).ToList()));
        var json = Path.Combine(outDir, "report.json");
        PipelineRunner.WriteAtomic(json, report.ToJson());
        return json;
    }
}
