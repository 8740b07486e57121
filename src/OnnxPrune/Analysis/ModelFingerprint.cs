using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using OnnxPrune.Graph;

namespace OnnxPrune.Analysis;

/// <summary>
/// A SHA-256 over a model's graph structure and weights: the identity that scores, masks and other per-group records
/// are bound to, so that records made on one base model are refused on another (<see cref="EnsureMatches"/>).
/// </summary>
/// <remarks>
/// <para>Covered, in this order, each string length-prefixed: a format tag; the opset imports (sorted by domain); the
/// data inputs (name, element type, declared dims); the output names; every node in stored order except Constant
/// nodes (domain, op type, input and output value names, attributes sorted by name, each serialized without its doc
/// string); every constant — initializers and Constant-node values — sorted by name (name, element type, dims and the
/// element bytes, little-endian, whatever the file's encoding).</para>
/// <para>Not covered, so that these leave it unchanged: node names, doc strings, metadata, producer, IR version,
/// declared shapes of intermediate values (value_info), and where tensors are stored (inline, raw or typed fields,
/// external data) — hence stable across save/load, <c>onnxprune convert</c> and stripping node names. Subgraph
/// attributes (If/Loop bodies) are hashed as serialized, their own node names included.</para>
/// <para>Any edit of structure or weights (pruning, fine-tuning, renaming a value) gives a new fingerprint.</para>
/// </remarks>
public sealed record ModelFingerprint
{
    private const string Tag = "onnxprune.fingerprint/1";

    private ModelFingerprint(string hex) => Hex = hex;

    /// <summary>The 64 lowercase hex digits of the SHA-256.</summary>
    public string Hex { get; }

    /// <summary>Computes the fingerprint of a model (not modified; reads every weight once, decoding none that is
    /// stored as raw bytes).</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static ModelFingerprint Of(OnnxModel model, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Write(hash, Tag);
        foreach (var (domain, version) in model.Opsets.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            Write(hash, "opset");
            Write(hash, domain);
            Write(hash, version);
        }
        foreach (var input in graph.DataInputs)
        {
            Write(hash, "input");
            Write(hash, input.Name);
            Write(hash, (long)input.ElementType);
            Write(hash, Dim.Format(input.Shape));
        }
        foreach (var output in graph.Outputs)
        {
            Write(hash, "output");
            Write(hash, output.Name);
        }
        foreach (var node in graph.Nodes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (node.ConstantOutput is not null) continue;
            Write(hash, "node");
            Write(hash, node.Domain is "ai.onnx" ? "" : node.Domain);
            Write(hash, node.OpType);
            Write(hash, node.Inputs.Count);
            foreach (var v in node.Inputs) Write(hash, v?.Name ?? "");
            Write(hash, node.Outputs.Count);
            foreach (var v in node.Outputs) Write(hash, v?.Name ?? "");
            foreach (var name in node.Attributes.Names.Order(StringComparer.Ordinal))
            {
                var attribute = node.Attributes.Find(name)!.Clone();
                attribute.ClearDocString();
                Write(hash, name);
                var bytes = attribute.ToByteArray();
                Write(hash, bytes.Length);
                hash.AppendData(bytes);
            }
        }
        foreach (var constant in graph.Constants.OrderBy(c => c.Name, StringComparer.Ordinal))
        {
            cancellationToken.ThrowIfCancellationRequested();
            Write(hash, "constant");
            Write(hash, constant.Name);
            Write(hash, (long)constant.ElementType);
            Write(hash, constant.Shape.Count);
            foreach (var d in constant.Shape) Write(hash, d);
            constant.AppendDataTo(hash);
        }
        return new ModelFingerprint(Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    /// <summary>Reads a fingerprint written by <see cref="ToString"/>: 64 hex digits, either case, optionally prefixed <c>sha256:</c>.</summary>
    /// <exception cref="FormatException">Not 64 hex digits.</exception>
    public static ModelFingerprint Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var hex = text.StartsWith("sha256:", StringComparison.Ordinal) ? text["sha256:".Length..] : text;
        if (hex.Length != 64 || !hex.All(char.IsAsciiHexDigit))
            throw new FormatException($"'{text}' is not a model fingerprint (64 hex digits of a SHA-256).");
        return new ModelFingerprint(hex.ToLowerInvariant());
    }

    /// <summary>Throws <see cref="ModelMismatchException"/> unless <paramref name="actual"/> equals this fingerprint.</summary>
    /// <param name="actual">The fingerprint of the model the records are being applied to.</param>
    /// <param name="source">What holds the records (a file path, "task library …"), for the message.</param>
    /// <exception cref="ModelMismatchException">The fingerprints differ.</exception>
    public void EnsureMatches(ModelFingerprint actual, string source)
    {
        ArgumentNullException.ThrowIfNull(actual);
        if (actual != this) throw new ModelMismatchException(source, this, actual);
    }

    /// <summary>The 64 lowercase hex digits (<see cref="Hex"/>): the form printed by <c>analyze --json</c>, written to
    /// scores files and stored as a task entry's base fingerprint.</summary>
    public override string ToString() => Hex;

    private static void Write(IncrementalHash hash, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        Write(hash, bytes.Length);
        hash.AppendData(bytes);
    }

    private static void Write(IncrementalHash hash, long value)
    {
        Span<byte> buffer = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(buffer, value);
        hash.AppendData(buffer);
    }
}
