using System.Buffers.Binary;
using System.IO.Compression;

namespace OnnxPrune.Data;

/// <summary>
/// Reader for the IDX format of MNIST-style data sets (optionally gzip-compressed): a magic number
/// <c>00 00 TT RR</c> (TT = element type, RR = rank), RR big-endian int32 dimensions, then the elements.
/// Only unsigned bytes (type 0x08), the type every MNIST-format set uses, are supported.
/// </summary>
public static class IdxFile
{
    /// <summary>Reads an IDX file of unsigned bytes; <c>.gz</c> files are decompressed on the fly.</summary>
    /// <returns>The dimensions and the elements in row-major order.</returns>
    /// <exception cref="DataFormatException">Not an IDX file of unsigned bytes, or truncated.</exception>
    public static (int[] Dims, byte[] Data) ReadBytes(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = File.OpenRead(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
        Span<byte> header = stackalloc byte[4];
        ReadExactly(stream, header, path, "header");
        if (header[0] != 0 || header[1] != 0)
            throw new DataFormatException(path, $"{path}: not an IDX file (magic {header[0]:X2}{header[1]:X2}{header[2]:X2}{header[3]:X2}).");
        if (header[2] != 0x08)
            throw new DataFormatException(path, $"{path}: IDX element type 0x{header[2]:X2} is not supported (only unsigned bytes, 0x08).");
        int rank = header[3];
        if (rank is < 1 or > 4) throw new DataFormatException(path, $"{path}: IDX rank {rank} is out of range.");
        var dims = new int[rank];
        Span<byte> dim = stackalloc byte[4];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            ReadExactly(stream, dim, path, "dimensions");
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(dim);
            if (dims[i] < 0) throw new DataFormatException(path, $"{path}: negative dimension {dims[i]}.");
            count *= dims[i];
        }
        if (count > Array.MaxLength) throw new DataFormatException(path, $"{path}: {count} elements is too many.");
        var data = new byte[count];
        ReadExactly(stream, data, path, "data");
        return (dims, data);
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string path, string what)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = stream.Read(buffer[total..]);
            if (n == 0) throw new DataFormatException(path, $"{path}: file ends inside the {what} ({total} of {buffer.Length} bytes).");
            total += n;
        }
    }
}
