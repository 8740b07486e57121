using System.Xml.Linq;
using NUnit.Framework;
using PlotCsv;

namespace OnnxPrune.Tests.Tools;

public class PlotCsvTests
{
    private const string Study = """
        criterion,mode,ratio,seed,share,class
        taylor,iterative,0.5,1,26.6,87.0
        taylor,iterative,0.5,2,26.9,89.0
        taylor,iterative,0.75,1,7.3,79.0
        cosine,iterative,0.5,1,26.0,80.0
        cosine,reinit,0.5,1,26.0,"70.5%"
        cosine,reinit,0.75,1,7.1,
        """;

    private static CsvTable Table(string text = Study) => CsvTable.Parse(new StringReader(text), "study.csv");

    [Test]
    public void RowsSharingXAndSeriesBecomeOneMeanWithItsSampleStd()
    {
        var data = CsvPlot.Group(Table(), new PlotRequest { X = "ratio", Y = ["class"], Series = ["criterion", "mode"] });
        Assert.That(data.Series.Select(s => s.Name), Is.EqualTo(new[] { "cosine / iterative", "cosine / reinit", "taylor / iterative" }));
        var taylor = data.Series.Single(s => s.Name == "taylor / iterative").Points;
        Assert.That(taylor.Select(p => p.X), Is.EqualTo(new[] { 0.5, 0.75 }), "sorted by x");
        Assert.That(taylor[0].Mean, Is.EqualTo(88.0).Within(1e-12));
        Assert.That(taylor[0].Std, Is.EqualTo(Math.Sqrt(2)).Within(1e-12), "sample std (n − 1) of 87 and 89");
        Assert.That(taylor[0].Count, Is.EqualTo(2));
        Assert.That(taylor[1].Std, Is.Zero);
        var reinit = data.Series.Single(s => s.Name == "cosine / reinit").Points;
        Assert.That(reinit.Select(p => p.Mean), Is.EqualTo(new[] { 70.5 }), "a quoted '70.5%' reads as 70.5; an empty y is skipped");
    }

    [Test]
    public void FiltersKeepMatchingRowsAndSeveralYColumnsAreSeriesOfTheirOwn()
    {
        var request = new PlotRequest { X = "ratio", Y = ["class", "share"], Filters = [PlotRequest.ParseFilter("criterion=taylor"), PlotRequest.ParseFilter("seed=1|2")] };
        var data = CsvPlot.Group(Table(), request);
        Assert.That(data.RowsUsed, Is.EqualTo(3));
        Assert.That(data.Series.Select(s => s.Name), Is.EqualTo(new[] { "class", "share" }));
        Assert.That(data.Series[1].Points[0].Mean, Is.EqualTo(26.75).Within(1e-12));
    }

    [Test]
    public void TextXBecomesCategoriesInOrderOfFirstAppearance()
    {
        var data = CsvPlot.Group(Table(), new PlotRequest { X = "mode", Y = ["class"], Series = ["criterion"] });
        Assert.That(data.XCategories, Is.EqualTo(new[] { "iterative", "reinit" }));
        Assert.That(data.Series.Single(s => s.Name == "cosine").Points.Select(p => p.X), Is.EqualTo(new[] { 0.0, 1.0 }));
    }

    [Test]
    public void BadInputIsNamed()
    {
        var missing = Assert.Throws<PlotCsvException>(() => CsvPlot.Group(Table(), new PlotRequest { X = "ratio", Y = ["accuracy"] }))!;
        Assert.That(missing.Message, Does.Contain("no column 'accuracy'").And.Contain("criterion, mode, ratio"));
        var text = Assert.Throws<PlotCsvException>(() => CsvPlot.Group(Table(), new PlotRequest { X = "ratio", Y = ["mode"] }))!;
        Assert.That(text.Message, Does.Contain("column 'mode' holds 'iterative'"));
        var none = Assert.Throws<PlotCsvException>(() => CsvPlot.Group(Table(), new PlotRequest { X = "ratio", Y = ["class"], Filters = [("criterion", ["l2"])] }))!;
        Assert.That(none.Message, Does.Contain("no row is left"));
        var ragged = Assert.Throws<PlotCsvException>(() => Table("a,b\n1,2\n3\n"))!;
        Assert.That(ragged.Message, Does.Contain("row 3 has 1 fields"));
        Assert.Throws<PlotCsvException>(() => PlotRequest.ParseFilter("criterion"));
    }

    [Test]
    public void RenderWritesAnSvgOrPngAndNothingForABadExtension()
    {
        var dir = TestPaths.TempDir();
        var csv = Path.Combine(dir, "study.csv");
        File.WriteAllText(csv, Study);
        var request = new PlotRequest { X = "share", Y = ["class"], Series = ["criterion", "mode"], Title = "class vs share" };
        var svg = Path.Combine(dir, "plot.svg");
        CsvPlot.Render(csv, request, svg);
        var xml = XDocument.Load(svg);
        Assert.That(xml.Root!.Name.LocalName, Is.EqualTo("svg"));
        Assert.That(xml.ToString(), Does.Contain("taylor / iterative").And.Contain("class vs share"));
        var png = Path.Combine(dir, "plot.png");
        CsvPlot.Render(csv, request, png);
        Assert.That(File.ReadAllBytes(png).Take(4), Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }));
        Assert.Throws<PlotCsvException>(() => CsvPlot.Render(csv, request, Path.Combine(dir, "plot.txt")));
        Assert.That(Directory.GetFiles(dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "study.csv", "plot.svg", "plot.png" }), "no temporary file left");
    }
}
