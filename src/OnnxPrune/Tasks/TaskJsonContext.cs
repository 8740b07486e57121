using System.Text.Json.Serialization;

namespace OnnxPrune.Tasks;

/// <summary>The library manifest (<c>library.json</c>).</summary>
internal sealed record LibraryManifest
{
    public const string FormatName = "onnxprune-task-library";

    public required string Format { get; init; }
    public required int Version { get; init; }
}

/// <summary>Source-generated System.Text.Json metadata for the library's files (camelCase, compact, enums as
/// strings, nulls omitted, unknown members ignored so additive fields stay readable).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true,
    WriteIndented = false)]
[JsonSerializable(typeof(TaskEntry))]
[JsonSerializable(typeof(LibraryManifest))]
internal sealed partial class TaskJsonContext : JsonSerializerContext;
