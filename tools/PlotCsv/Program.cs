using System.CommandLine;
using PlotCsv;

// plotcsv: CSV in, SVG/PNG out. See README.md.
var csv = new Argument<FileInfo>("csv") { Description = "The CSV file (first row: column names)." };
var x = new Option<string>("--x") { Description = "Column of the x values (numbers, or text: categories).", Required = true };
var y = new Option<string[]>("--y") { Description = "Column(s) of the y values; several: one series each.", Required = true, AllowMultipleArgumentsPerToken = true };
var series = new Option<string[]>("--series") { Description = "Column(s) whose values name a row's series (joined with ' / ').", AllowMultipleArgumentsPerToken = true };
var filter = new Option<string[]>("--filter") { Description = "COL=VALUE or COL=V1|V2: keep only matching rows (repeatable; all must hold)." };
var title = new Option<string?>("--title") { Description = "Plot title." };
var xlabel = new Option<string?>("--xlabel") { Description = "x-axis label (default: the x column)." };
var ylabel = new Option<string?>("--ylabel") { Description = "y-axis label (default: the y column(s))." };
var width = new Option<int>("--width") { Description = "Image width in pixels.", DefaultValueFactory = _ => 640 };
var height = new Option<int>("--height") { Description = "Image height in pixels.", DefaultValueFactory = _ => 420 };
var output = new Option<FileInfo>("--out") { Description = "Output image: .svg or .png.", Required = true };
var root = new RootCommand("plotcsv: plot CSV columns as lines, mean ± std error bars where several rows share x and series (ScottPlot 5).")
{
    csv, x, y, series, filter, title, xlabel, ylabel, width, height, output,
};
root.SetAction(parse =>
{
    var request = new PlotRequest
    {
        X = parse.GetValue(x)!, Y = parse.GetValue(y)!, Series = parse.GetValue(series) ?? [],
        Filters = (parse.GetValue(filter) ?? []).Select(PlotRequest.ParseFilter).ToArray(),
        Title = parse.GetValue(title), XLabel = parse.GetValue(xlabel), YLabel = parse.GetValue(ylabel),
        Width = parse.GetValue(width), Height = parse.GetValue(height),
    };
    var outPath = parse.GetValue(output)!.FullName;
    var data = CsvPlot.Render(parse.GetValue(csv)!.FullName, request, outPath);
    Console.WriteLine($"{outPath}: {data.Series.Count} series from {data.RowsUsed} rows");
    Console.WriteLine(CsvPlot.Describe(data));
    return 0;
});
try
{
    var parsed = root.Parse(args);
    if (parsed.Errors.Count > 0)
    {
        foreach (var error in parsed.Errors) Console.Error.WriteLine($"plotcsv: {error.Message}");
        return 2;
    }
    return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (PlotCsvException ex)
{
    Console.Error.WriteLine($"plotcsv: {ex.Message}");
    return 3;
}
catch (IOException ex)
{
    Console.Error.WriteLine($"plotcsv: {ex.Message}");
    return 4;
}
catch (UnauthorizedAccessException ex)
{
    Console.Error.WriteLine($"plotcsv: {ex.Message}");
    return 4;
}
