using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using OnnxPrune.Tensors;
using BFloat16 = OnnxPrune.Tensors.BFloat16;

namespace OnnxPrune.Runtime;

/// <summary>Seeded random input tensors for a model, from its input metadata (for smoke runs and benchmarks).</summary>
/// <remarks>
/// Dynamic dimensions are resolved by <c>dims</c>: a key is either the symbolic dimension name (e.g. <c>batch</c>)
/// or <c>INPUT:AXIS</c> (e.g. <c>image:2</c>, which wins over the name); anything unresolved becomes
/// <c>defaultDim</c>. Floating-point inputs are uniform in [-1, 1), integers uniform in [0, 10), booleans fair coins.
/// </remarks>
public static class RandomInputs
{
    /// <summary>Concrete shapes for every input.</summary>
    /// <exception cref="ArgumentException">A dimension value is not positive.</exception>
    public static Dictionary<string, long[]> ResolveShapes(IReadOnlyDictionary<string, NodeMetadata> inputs, IReadOnlyDictionary<string, long>? dims = null, long defaultDim = 1) =>
        Resolve(inputs, dims, defaultDim).Shapes;

    /// <summary>
    /// Concrete shapes for every input, and which dynamic dims took <paramref name="defaultDim"/> because nothing gave them.
    /// A symbolic dim is one value wherever its name appears; a dim named by arithmetic over other names (exporters write
    /// <c>past_sequence_length + sequence_length</c> for a tied dim) is computed from their values, so tied inputs agree.
    /// </summary>
    /// <exception cref="ArgumentException">A dimension value is not positive.</exception>
    public static ResolvedShapes Resolve(IReadOnlyDictionary<string, NodeMetadata> inputs, IReadOnlyDictionary<string, long>? dims = null, long defaultDim = 1)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentOutOfRangeException.ThrowIfLessThan(defaultDim, 0);
        var symbols = new Dictionary<string, long>(dims ?? new Dictionary<string, long>(), StringComparer.Ordinal);
        var defaulted = new List<string>();
        var defaultedSymbols = new HashSet<string>(StringComparer.Ordinal);
        long Symbol(string symbol, string where)
        {
            if (symbols.TryGetValue(symbol, out var v)) return v;
            if (defaultedSymbols.Add(symbol)) defaulted.Add($"{symbol} ({where})");
            return symbols[symbol] = defaultDim;
        }
        var result = new Dictionary<string, long[]>(StringComparer.Ordinal);
        // Plain names first, then arithmetic over them, so an expression sees every name's value.
        foreach (var pass in new[] { false, true })
        {
            foreach (var (name, input) in inputs)
            {
                var shape = result.TryGetValue(name, out var s) ? s : result[name] = new long[input.Dimensions.Length];
                for (int axis = 0; axis < shape.Length; axis++)
                {
                    long d = input.Dimensions[axis];
                    if (d >= 0) { shape[axis] = d; continue; }
                    var symbol = input.SymbolicDimensions.Length > axis && !string.IsNullOrWhiteSpace(input.SymbolicDimensions[axis]) ? input.SymbolicDimensions[axis].Trim() : null;
                    var where = $"{name}:{axis.ToString(CultureInfo.InvariantCulture)}";
                    var expression = symbol is null ? null : Expression(symbol);
                    if (pass != (expression is not null)) continue;
                    if (dims != null && dims.TryGetValue(where, out var byAxis)) d = byAxis;
                    else if (symbol is null) { d = defaultDim; defaulted.Add($"(unnamed) ({where})"); }
                    else if (expression is null) d = Symbol(symbol, where);
                    else if (symbols.TryGetValue(symbol, out var given)) d = given;
                    else d = Evaluate(expression, t => Symbol(t, where));
                    if (d < 0) throw new ArgumentException($"Dimension {axis} of input '{name}' ({symbol ?? "unnamed"}) resolved to {d}.", nameof(dims));
                    shape[axis] = d;
                }
            }
        }
        return new ResolvedShapes(result, defaulted);
    }

    /// <summary>Tokens of a dim named by arithmetic (<c>a + b</c>, <c>2*a</c>, <c>a - 1</c>); null for a plain name.</summary>
    private static List<string>? Expression(string symbol)
    {
        if (!symbol.Any(ch => ch is '+' or '-' or '*')) return null;
        var tokens = new List<string>();
        int i = 0;
        while (i < symbol.Length)
        {
            char ch = symbol[i];
            if (char.IsWhiteSpace(ch)) { i++; continue; }
            if (ch is '+' or '-' or '*') { tokens.Add(ch.ToString()); i++; continue; }
            int start = i;
            while (i < symbol.Length && (char.IsLetterOrDigit(symbol[i]) || symbol[i] is '_' or '.' or ':')) i++;
            if (i == start) return null; // parentheses, division…: not understood, a plain name
            tokens.Add(symbol[start..i]);
        }
        // operand (op operand)*
        if (tokens.Count < 3 || tokens.Count % 2 == 0) return null;
        for (int t = 0; t < tokens.Count; t++)
            if ((t % 2 == 1) != (tokens[t] is "+" or "-" or "*")) return null;
        return tokens;
    }

    /// <summary>Evaluates operand (op operand)* with * before + and −.</summary>
    private static long Evaluate(List<string> tokens, Func<string, long> symbol)
    {
        long Operand(string token) => long.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : symbol(token);
        long total = 0, term = Operand(tokens[0]);
        int sign = 1;
        for (int t = 1; t < tokens.Count; t += 2)
        {
            long next = Operand(tokens[t + 1]);
            if (tokens[t] == "*") { term *= next; continue; }
            total += sign * term;
            sign = tokens[t] == "+" ? 1 : -1;
            term = next;
        }
        return total + sign * term;
    }

    /// <summary>Random tensors for every input of <paramref name="inputs"/> (e.g. <see cref="InferenceSession.InputMetadata"/>; all must be tensors).</summary>
    /// <exception cref="UnsupportedElementTypeException">An input is not a tensor or has an element type without a random generator here.</exception>
    public static Dictionary<string, Tensor> Create(IReadOnlyDictionary<string, NodeMetadata> inputs, int seed, IReadOnlyDictionary<string, long>? dims = null, long defaultDim = 1)
    {
        var rng = new Random(seed);
        var shapes = Resolve(inputs, dims, defaultDim).Shapes;
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, input) in inputs)
        {
            if (input.OnnxValueType != OnnxValueType.ONNX_TYPE_TENSOR)
                throw new UnsupportedElementTypeException($"Input '{name}' is a {input.TypeText()}; only tensor inputs can be generated.");
            var elementType = input.OnnxPruneElementType();
            result[name] = IsGenerated(elementType) ? Fill(elementType, shapes[name], rng)
                : throw new UnsupportedElementTypeException($"Input '{name}' is {input.TypeText()}: no random generator for element type {elementType}; feed it from a file instead.");
        }
        return result;
    }

    /// <summary>Whether <see cref="Fill"/> has a generator for <paramref name="type"/>.</summary>
    public static bool IsGenerated(ElementType type) => type is ElementType.Float or ElementType.Double or ElementType.Float16 or ElementType.BFloat16
        or ElementType.Int64 or ElementType.Int32 or ElementType.Int16 or ElementType.Int8 or ElementType.UInt8 or ElementType.UInt16
        or ElementType.UInt32 or ElementType.UInt64 or ElementType.Bool;

    /// <summary>A random tensor of the given type and shape.</summary>
    /// <exception cref="UnsupportedElementTypeException">No generator for <paramref name="type"/>.</exception>
    public static Tensor Fill(ElementType type, long[] shape, Random rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var tensor = Tensor.Zeros(type, shape);
        switch (type)
        {
            case ElementType.Float: foreach (ref var v in tensor.AsSpan<float>()) v = (float)(rng.NextDouble() * 2 - 1); break;
            case ElementType.Double: foreach (ref var v in tensor.AsSpan<double>()) v = rng.NextDouble() * 2 - 1; break;
            case ElementType.Float16: foreach (ref var v in tensor.AsSpan<Half>()) v = (Half)(rng.NextDouble() * 2 - 1); break;
            case ElementType.BFloat16: foreach (ref var v in tensor.AsSpan<BFloat16>()) v = (BFloat16)(float)(rng.NextDouble() * 2 - 1); break;
            case ElementType.Int64: foreach (ref var v in tensor.AsSpan<long>()) v = rng.Next(10); break;
            case ElementType.Int32: foreach (ref var v in tensor.AsSpan<int>()) v = rng.Next(10); break;
            case ElementType.Int16: foreach (ref var v in tensor.AsSpan<short>()) v = (short)rng.Next(10); break;
            case ElementType.Int8: foreach (ref var v in tensor.AsSpan<sbyte>()) v = (sbyte)rng.Next(10); break;
            case ElementType.UInt8: foreach (ref var v in tensor.AsSpan<byte>()) v = (byte)rng.Next(10); break;
            case ElementType.UInt16: foreach (ref var v in tensor.AsSpan<ushort>()) v = (ushort)rng.Next(10); break;
            case ElementType.UInt32: foreach (ref var v in tensor.AsSpan<uint>()) v = (uint)rng.Next(10); break;
            case ElementType.UInt64: foreach (ref var v in tensor.AsSpan<ulong>()) v = (ulong)rng.Next(10); break;
            case ElementType.Bool:
            {
                var bytes = MemoryMarshal.AsBytes(tensor.AsSpan<bool>());
                for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)rng.Next(2);
                break;
            }
            default: throw new UnsupportedElementTypeException($"No random generator for element type {type}.");
        }
        return tensor;
    }

    /// <summary>Parses <c>NAME=VALUE</c> / <c>INPUT:AXIS=VALUE</c> pairs: the one grammar of <see cref="Graph.DimBindings.Parse"/>.</summary>
    /// <exception cref="ArgumentException">A pair is malformed or its value is not a positive integer.</exception>
    public static Dictionary<string, long> ParseDims(IEnumerable<string>? pairs) => Graph.DimBindings.Parse(pairs);
}

/// <summary>Concrete input shapes and the dynamic dims that took the default value.</summary>
/// <param name="Shapes">Shape per input.</param>
/// <param name="Defaulted">Each defaulted dim as <c>NAME (INPUT:AXIS)</c> (<c>(unnamed)</c> for a dim without a name), once per name.</param>
public sealed record ResolvedShapes(Dictionary<string, long[]> Shapes, IReadOnlyList<string> Defaulted);
