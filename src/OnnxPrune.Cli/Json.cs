using System.Text.Json;

namespace OnnxPrune.Cli;

/// <summary>One JSON style for every verb: camelCase keys, indented.</summary>
internal static class Json
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DictionaryKeyPolicy = null,
        WriteIndented = true,
        // A diverged run reports NaN loss; write it as "NaN" rather than failing to print the result.
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
