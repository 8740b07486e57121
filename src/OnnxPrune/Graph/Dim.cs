namespace OnnxPrune.Graph;

/// <summary>One dimension of a tensor shape: a known size, a named symbolic size (e.g. "batch"), or unknown.</summary>
public readonly record struct Dim
{
    /// <summary>The known size, or null.</summary>
    public long? Value { get; }

    /// <summary>The symbolic name (ONNX dim_param), or null.</summary>
    public string? Param { get; }

    /// <summary>A known size.</summary>
    public Dim(long value) { Value = value; Param = null; }

    /// <summary>A symbolic size.</summary>
    public Dim(string param) { Value = null; Param = param; }

    /// <summary>An unknown dimension (neither size nor name).</summary>
    public static Dim Unknown => default;

    /// <summary>True when the size is known.</summary>
    public bool IsKnown => Value.HasValue;

    /// <summary>A known size.</summary>
    public static implicit operator Dim(long value) => new(value);

    /// <inheritdoc/>
    public override string ToString() => Value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? Param ?? "?";

    /// <summary>Formats a shape like <c>[batch,3,224,224]</c>; null means unknown rank.</summary>
    public static string Format(IReadOnlyList<Dim>? shape) => shape is null ? "[?]" : "[" + string.Join(",", shape) + "]";
}
