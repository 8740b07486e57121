using System.Globalization;
using ScottPlot;

namespace PlotCsv;

/// <summary>What to plot from a <see cref="CsvTable"/>.</summary>
public sealed record PlotRequest
{
    /// <summary>Column of the x values: numbers, or any text (then categories, in order of first appearance).</summary>
    public required string X { get; init; }

    /// <summary>Columns of the y values (numbers); each is a series of its own (crossed with <see cref="Series"/>).</summary>
    public required IReadOnlyList<string> Y { get; init; }

    /// <summary>Columns whose values, joined with " / ", name a row's series; empty: one series per y column.</summary>
    public IReadOnlyList<string> Series { get; init; } = [];

    /// <summary>Keep only rows where each column equals one of its values (COL=V or COL=V1|V2).</summary>
    public IReadOnlyList<(string Column, IReadOnlyList<string> Values)> Filters { get; init; } = [];

    /// <summary>Plot title (none when null).</summary>
    public string? Title { get; init; }

    /// <summary>x-axis label (default: the x column's name).</summary>
    public string? XLabel { get; init; }

    /// <summary>y-axis label (default: the y column's name, or the y columns' names).</summary>
    public string? YLabel { get; init; }

    /// <summary>Image width in pixels.</summary>
    public int Width { get; init; } = 640;

    /// <summary>Image height in pixels.</summary>
    public int Height { get; init; } = 420;

    /// <summary>Parses "COL=V" or "COL=V1|V2" into a filter.</summary>
    /// <exception cref="PlotCsvException">No '=' or an empty column name.</exception>
    public static (string Column, IReadOnlyList<string> Values) ParseFilter(string text)
    {
        int eq = text.IndexOf('=');
        if (eq <= 0) throw new PlotCsvException($"--filter '{text}': expected COL=VALUE (or COL=V1|V2).");
        return (text[..eq].Trim(), text[(eq + 1)..].Split('|').Select(v => v.Trim()).ToArray());
    }
}

/// <summary>One point of a series: x, the mean of the y values that share it, their sample standard deviation and count.</summary>
public sealed record PlotPoint(double X, double Mean, double Std, int Count);

/// <summary>One series: its name and its points, sorted by x.</summary>
public sealed record PlotSeries(string Name, IReadOnlyList<PlotPoint> Points);

/// <summary>The grouped data of a plot, ready to draw; <see cref="XCategories"/> is non-null for a text x column.</summary>
public sealed record PlotData(IReadOnlyList<PlotSeries> Series, IReadOnlyList<string>? XCategories, int RowsUsed);

/// <summary>Groups CSV rows into series (mean ± std where several rows share x and series) and draws them with ScottPlot 5.</summary>
public static class CsvPlot
{
    /// <summary>
    /// Filters the rows, groups them by series and x, and averages y within each group: mean, sample standard deviation
    /// (n − 1; 0 for one row) and count. Rows whose y field is empty are skipped; a non-numeric y is an error.
    /// </summary>
    /// <exception cref="PlotCsvException">A column is missing, a y value is not a number, or no row is left.</exception>
    public static PlotData Group(CsvTable table, PlotRequest request)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(request);
        if (request.Y.Count == 0) throw new PlotCsvException("Give at least one y column (--y).");
        int x = table.IndexOf(request.X);
        var ys = request.Y.Select(table.IndexOf).ToArray();
        var series = request.Series.Select(table.IndexOf).ToArray();
        var filters = request.Filters.Select(f => (Index: table.IndexOf(f.Column), f.Values)).ToArray();
        var rows = table.Rows.Where(r => filters.All(f => f.Values.Contains(r[f.Index], StringComparer.Ordinal))).ToList();
        if (rows.Count == 0)
            throw new PlotCsvException($"{table.Source}: no row is left after the filters ({string.Join(", ", request.Filters.Select(f => $"{f.Column}={string.Join('|', f.Values)}"))}).");

        bool numericX = rows.All(r => CsvTable.TryNumber(r[x], out _));
        var categories = numericX ? null : rows.Select(r => r[x]).Distinct(StringComparer.Ordinal).ToList();
        double XOf(string[] r) => numericX ? Number(r[x]) : categories!.IndexOf(r[x]);

        var groups = new Dictionary<string, Dictionary<double, List<double>>>(StringComparer.Ordinal);
        var order = new List<string>();
        int used = 0;
        for (int yi = 0; yi < ys.Length; yi++)
            foreach (var r in rows)
            {
                var field = r[ys[yi]];
                if (field.Length == 0) continue;
                if (!CsvTable.TryNumber(field, out double y))
                    throw new PlotCsvException($"{table.Source}: column '{request.Y[yi]}' holds '{field}', not a number (row with {request.X}={r[x]}).");
                var parts = series.Select(s => r[s]).ToList();
                if (ys.Length > 1 || parts.Count == 0) parts.Add(request.Y[yi]);
                var name = string.Join(" / ", parts);
                if (!groups.TryGetValue(name, out var byX)) { groups[name] = byX = []; order.Add(name); }
                double xv = XOf(r);
                if (!byX.TryGetValue(xv, out var list)) byX[xv] = list = [];
                list.Add(y);
                used++;
            }
        if (used == 0) throw new PlotCsvException($"{table.Source}: every selected row has an empty {string.Join("/", request.Y)}.");
        var result = order.OrderBy(n => n, StringComparer.Ordinal).Select(n => new PlotSeries(n, groups[n].OrderBy(p => p.Key).Select(p =>
        {
            double mean = p.Value.Average();
            double std = p.Value.Count > 1 ? Math.Sqrt(p.Value.Sum(v => (v - mean) * (v - mean)) / (p.Value.Count - 1)) : 0;
            return new PlotPoint(p.Key, mean, std, p.Value.Count);
        }).ToArray())).ToArray();
        return new PlotData(result, categories, rows.Count);
    }

    private static double Number(string field) => CsvTable.TryNumber(field, out double v) ? v : double.NaN;

    /// <summary>Draws the series as lines with markers, and error bars (± std) where a point averages several rows.</summary>
    public static Plot Draw(PlotData data, PlotRequest request)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(request);
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < data.Series.Count; i++)
        {
            var s = data.Series[i];
            var color = palette.GetColor(i);
            var xs = s.Points.Select(p => p.X).ToArray();
            var means = s.Points.Select(p => p.Mean).ToArray();
            var line = plot.Add.Scatter(xs, means, color);
            line.LegendText = s.Name;
            line.MarkerSize = 6;
            if (s.Points.Any(p => p.Count > 1))
            {
                var bars = plot.Add.ErrorBar(xs, means, s.Points.Select(p => p.Std).ToArray());
                bars.Color = color;
            }
        }
        if (data.XCategories is { } cats)
            plot.Axes.Bottom.SetTicks(Enumerable.Range(0, cats.Count).Select(i => (double)i).ToArray(), cats.ToArray());
        if (request.Title is { } title) plot.Title(title);
        plot.XLabel(request.XLabel ?? request.X);
        plot.YLabel(request.YLabel ?? string.Join(", ", request.Y));
        if (data.Series.Count > 1 || request.Series.Count > 0) plot.ShowLegend(Edge.Right); // outside the data area: it never hides a point
        return plot;
    }

    /// <summary>
    /// Loads <paramref name="csvPath"/>, plots it and writes <paramref name="outPath"/>: SVG for .svg, PNG for .png (through a
    /// temporary file and a rename, so a failed run leaves no half-written image). Returns the grouped data.
    /// </summary>
    /// <exception cref="PlotCsvException">Bad CSV, request or output extension.</exception>
    public static PlotData Render(string csvPath, PlotRequest request, string outPath)
    {
        var ext = Path.GetExtension(outPath).ToLowerInvariant();
        if (ext is not (".svg" or ".png")) throw new PlotCsvException($"--out {outPath}: the extension must be .svg or .png.");
        var data = Group(CsvTable.Load(csvPath), request);
        var plot = Draw(data, request);
        var dir = Path.GetDirectoryName(Path.GetFullPath(outPath))!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(outPath)}.{Environment.ProcessId}.tmp");
        try
        {
            if (ext == ".svg") File.WriteAllText(temp, plot.GetSvgXml(request.Width, request.Height));
            else File.WriteAllBytes(temp, plot.GetImageBytes(request.Width, request.Height, ImageFormat.Png));
            File.Move(temp, outPath, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
        return data;
    }

    /// <summary>A one-line summary per series for the console: name, points, x range.</summary>
    public static string Describe(PlotData data) => string.Join(Environment.NewLine, data.Series.Select(s =>
        string.Create(CultureInfo.InvariantCulture, $"{s.Name}: {s.Points.Count} points, x {s.Points.Min(p => p.X):G4}..{s.Points.Max(p => p.X):G4}, {s.Points.Sum(p => p.Count)} rows")));
}
