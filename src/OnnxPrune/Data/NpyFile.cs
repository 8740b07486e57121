using System.Text;
using System.Text.RegularExpressions;
using OnnxPrune.Tensors;

namespace OnnxPrune.Data;

/// <summary>
/// NumPy's .npy tensor files (format versions 1–3): a magic string, a header dictionary with <c>descr</c>,
/// <c>fortran_order</c> and <c>shape</c>, then the raw elements. Little-endian, C order only.
/// </summary>
public static partial class NpyFile
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    private static readonly Dictionary<string, ElementType> Types = new(StringComparer.Ordinal)
    {
        ["<f4"] = ElementType.Float, ["<f8"] = ElementType.Double, ["<f2"] = ElementType.Float16,
        ["<i8"] = ElementType.Int64, ["<i4"] = ElementType.Int32, ["<i2"] = ElementType.Int16,
        ["|i1"] = ElementType.Int8, ["|u1"] = ElementType.UInt8, ["|b1"] = ElementType.Bool,
        ["<u2"] = ElementType.UInt16, ["<u4"] = ElementType.UInt32, ["<u8"] = ElementType.UInt64,
    };

    /// <summary>Reads a .npy file.</summary>
    /// <exception cref="DataFormatException">Not a .npy file, big-endian, Fortran order, or an unsupported dtype.</exception>
    public static Tensor Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic))
            throw new DataFormatException(path, $"{path}: not a .npy file.");
        int major = bytes[6];
        int headerLength, start;
        if (major == 1) { headerLength = BitConverter.ToUInt16(bytes, 8); start = 10; }
        else if (major is 2 or 3 && bytes.Length >= 12) { headerLength = (int)BitConverter.ToUInt32(bytes, 8); start = 12; }
        else throw new DataFormatException(path, $"{path}: .npy format version {major} is not supported.");
        if (start + headerLength > bytes.Length) throw new DataFormatException(path, $"{path}: header runs past the end of the file.");
        var header = Encoding.UTF8.GetString(bytes, start, headerLength);
        var descr = DescrPattern().Match(header);
        var fortran = FortranPattern().Match(header);
        var shape = ShapePattern().Match(header);
        if (!descr.Success || !fortran.Success || !shape.Success)
            throw new DataFormatException(path, $"{path}: malformed .npy header '{header.Trim()}'.");
        if (fortran.Groups[1].Value == "True") throw new DataFormatException(path, $"{path}: Fortran-order arrays are not supported.");
        if (!Types.TryGetValue(descr.Groups[1].Value, out var type))
            throw new DataFormatException(path, $"{path}: dtype '{descr.Groups[1].Value}' is not supported.");
        var dims = shape.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => long.Parse(d, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        long count = Tensor.CountElements(dims);
        long size = ElementTypes.ByteCount(type, count);
        int dataStart = start + headerLength;
        if (bytes.LongLength - dataStart != size)
            throw new DataFormatException(path, $"{path}: {Tensor.FormatShape(dims)} {descr.Groups[1].Value} needs {size} bytes of data, file has {bytes.LongLength - dataStart}.");
        return new Tensor(type, dims, bytes.AsSpan(dataStart).ToArray());
    }

    /// <summary>Writes a tensor as a version 1.0 .npy file (atomically).</summary>
    public static void Write(string path, Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var descr = Types.FirstOrDefault(p => p.Value == tensor.ElementType).Key
                    ?? throw new UnsupportedElementTypeException($"{path}: {tensor.ElementType} has no .npy dtype here.");
        var dims = tensor.Rank == 1 ? $"{tensor.Shape[0]}," : string.Join(", ", tensor.Shape);
        var header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}";
        int total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n";
        var temp = path + ".tmp";
        using (var stream = File.Create(temp))
        {
            stream.Write(Magic);
            stream.Write([1, 0]);
            stream.Write(BitConverter.GetBytes((ushort)header.Length));
            stream.Write(Encoding.ASCII.GetBytes(header));
            stream.Write(tensor.RawData);
        }
        File.Move(temp, path, overwrite: true);
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']+)'")]
    private static partial Regex DescrPattern();
    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();
    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
