using System.Globalization;

namespace OnnxPrune.Graph;

/// <summary>
/// The one grammar for binding symbolic input dimensions to values (<c>--dim</c> of every verb, and pipeline files):
/// <c>NAME=VALUE</c> binds every dimension called NAME (e.g. <c>batch=4</c>), <c>INPUT:AXIS=VALUE</c> binds one axis of one
/// input (e.g. <c>image:2=224</c>, which wins over the name where both apply). VALUE is a positive integer.
/// </summary>
public static class DimBindings
{
    /// <summary>Parses <c>NAME=VALUE</c> / <c>INPUT:AXIS=VALUE</c> pairs; a later pair for the same key wins.</summary>
    /// <exception cref="ArgumentException">A pair is malformed, its key empty, or its value not a positive integer (the message quotes it).</exception>
    public static Dictionary<string, long> Parse(IEnumerable<string>? pairs)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        if (pairs is null) return result;
        foreach (var pair in pairs)
        {
            int eq = pair?.LastIndexOf('=') ?? -1;
            if (eq <= 0 || !long.TryParse(pair.AsSpan(eq + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value <= 0)
                throw new ArgumentException($"--dim '{pair}': expected NAME=VALUE or INPUT:AXIS=VALUE with a positive integer value.", nameof(pairs));
            result[pair![..eq]] = value;
        }
        return result;
    }
}
