using System.Globalization;
using Microsoft.VisualBasic.FileIO;

namespace PlotCsv;

/// <summary>A bad CSV file or a plot request that does not fit it (the message names the file, column or row).</summary>
public sealed class PlotCsvException(string message) : Exception(message);

/// <summary>A CSV table: a header row of column names and rows of fields (RFC 4180 quoting, via <see cref="TextFieldParser"/>).</summary>
public sealed class CsvTable
{
    /// <summary>Column names, in file order.</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>Rows; every row has one field per column.</summary>
    public IReadOnlyList<string[]> Rows { get; }

    /// <summary>Where the table came from (for messages).</summary>
    public string Source { get; }

    /// <summary>A table from columns and rows.</summary>
    /// <exception cref="PlotCsvException">Duplicate column names, or a row of the wrong length.</exception>
    public CsvTable(IReadOnlyList<string> columns, IReadOnlyList<string[]> rows, string source = "table")
    {
        Source = source;
        var duplicate = columns.GroupBy(c => c, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new PlotCsvException($"{source}: column '{duplicate.Key}' appears twice in the header.");
        for (int r = 0; r < rows.Count; r++)
            if (rows[r].Length != columns.Count)
                throw new PlotCsvException($"{source}: row {r + 2} has {rows[r].Length} fields; the header has {columns.Count}.");
        Columns = columns;
        Rows = rows;
    }

    /// <summary>Reads a CSV file whose first row names the columns (blank lines skipped, fields trimmed).</summary>
    /// <exception cref="PlotCsvException">The file is empty or malformed (unbalanced quotes, ragged rows).</exception>
    public static CsvTable Load(string path)
    {
        using var reader = new StreamReader(path);
        return Parse(reader, path);
    }

    /// <summary>Parses CSV text (see <see cref="Load"/>).</summary>
    public static CsvTable Parse(TextReader text, string source = "csv")
    {
        using var parser = new TextFieldParser(text) { TextFieldType = FieldType.Delimited, HasFieldsEnclosedInQuotes = true, TrimWhiteSpace = true };
        parser.SetDelimiters(",");
        var rows = new List<string[]>();
        string[]? header = null;
        try
        {
            while (!parser.EndOfData)
            {
                var fields = parser.ReadFields();
                if (fields is null || fields.All(string.IsNullOrEmpty)) continue;
                if (header is null) header = fields;
                else rows.Add(fields);
            }
        }
        catch (MalformedLineException ex)
        {
            throw new PlotCsvException($"{source}: line {ex.LineNumber} is not valid CSV ({ex.Message}).");
        }
        if (header is null) throw new PlotCsvException($"{source}: no header row (the file is empty).");
        return new CsvTable(header, rows, source);
    }

    /// <summary>The index of column <paramref name="name"/>.</summary>
    /// <exception cref="PlotCsvException">No such column (the message lists the columns there are).</exception>
    public int IndexOf(string name)
    {
        for (int i = 0; i < Columns.Count; i++)
            if (Columns[i] == name) return i;
        throw new PlotCsvException($"{Source}: no column '{name}'; the columns are: {string.Join(", ", Columns)}.");
    }

    /// <summary>Parses a field as a number (invariant culture; a trailing % is dropped: "87.3%" is 87.3).</summary>
    public static bool TryNumber(string field, out double value) =>
        double.TryParse(field.EndsWith('%') ? field[..^1] : field, NumberStyles.Float | NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out value);
}
