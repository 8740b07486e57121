using OnnxPrune.Tensors;
using StbImageSharp;

namespace OnnxPrune.Data;

/// <summary>How <see cref="ImageFolder.Load"/> turns image files into a model's input.</summary>
public sealed record ImageFolderOptions
{
    /// <summary>Height of the model's input (images are resized to it, bilinear).</summary>
    public required int Height { get; init; }

    /// <summary>Width of the model's input.</summary>
    public required int Width { get; init; }

    /// <summary>Per-channel mean subtracted after scaling to [0, 1] (in the channel order fed); null: none.</summary>
    public IReadOnlyList<float>? Mean { get; init; }

    /// <summary>Per-channel standard deviation divided by after the mean; null: none.</summary>
    public IReadOnlyList<float>? Std { get; init; }

    /// <summary>Feed channels as B, G, R (OpenCV-trained models) instead of R, G, B.</summary>
    public bool Bgr { get; init; }

    /// <summary>Read at most this many images (in file-name order); 0: all.</summary>
    public int Limit { get; init; }
}

/// <summary>
/// A folder of PNG/JPEG (also BMP, TGA, GIF) images as a label-free <see cref="TensorDataset"/>: input <see cref="InputKey"/>
/// float32 [N, 3, H, W], RGB (or BGR), resized to the model's H×W (bilinear, corners aligned to pixel centres), scaled to
/// [0, 1], then normalized by the optional mean/std. Decoding is StbImageSharp's; every image is held in memory.
/// </summary>
public static class ImageFolder
{
    /// <summary>The input key of the images.</summary>
    public const string InputKey = "image";

    /// <summary>File extensions read (case-insensitive).</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".png", ".jpg", ".jpeg", ".bmp", ".tga", ".gif"];

    /// <summary>Loads the images of <paramref name="folder"/> (not recursive), sorted by file name.</summary>
    /// <exception cref="DataFormatException">The folder is missing or holds no image, or a file cannot be decoded (the message names it).</exception>
    public static TensorDataset Load(string folder, ImageFolderOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Width, 1);
        if (options.Mean is { Count: not 3 }) throw new ArgumentException("Mean needs 3 values (one per channel).", nameof(options));
        if (options.Std is { Count: not 3 } || (options.Std?.Any(s => s <= 0) ?? false)) throw new ArgumentException("Std needs 3 positive values (one per channel).", nameof(options));
        if (!Directory.Exists(folder)) throw new DataFormatException(folder, $"Image folder '{folder}' does not exist.");
        var files = Directory.EnumerateFiles(folder)
            .Where(f => Extensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal).ToArray();
        if (options.Limit > 0) files = files.Take(options.Limit).ToArray();
        if (files.Length == 0) throw new DataFormatException(folder, $"Image folder '{folder}' holds no image ({string.Join(", ", Extensions)}).");
        int h = options.Height, w = options.Width, plane = h * w;
        var data = new float[(long)files.Length * 3 * plane];
        for (int i = 0; i < files.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ImageResult image;
            try
            {
                using var stream = File.OpenRead(files[i]);
                image = ImageResult.FromStream(stream, ColorComponents.RedGreenBlue);
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException or IOException or IndexOutOfRangeException or NotSupportedException)
            {
                throw new DataFormatException(files[i], $"Image '{files[i]}' cannot be decoded: {e.Message}", e);
            }
            if (image is null || image.Width < 1 || image.Height < 1) throw new DataFormatException(files[i], $"Image '{files[i]}' cannot be decoded.");
            Resize(image.Data, image.Width, image.Height, data.AsSpan(i * 3 * plane, 3 * plane), w, h, options);
        }
        var tensor = Tensor.FromArray<float>(data, files.Length, 3, h, w);
        return new TensorDataset($"images:{folder}", new Dictionary<string, Tensor> { [InputKey] = tensor }, new Dictionary<string, Tensor>());
    }

    /// <summary>Bilinear resize of interleaved RGB bytes into planar float channels, scaled and normalized.</summary>
    private static void Resize(byte[] rgb, int srcW, int srcH, Span<float> into, int w, int h, ImageFolderOptions options)
    {
        int plane = w * h;
        float sy = srcH / (float)h, sx = srcW / (float)w;
        for (int y = 0; y < h; y++)
        {
            float fy = Math.Clamp((y + 0.5f) * sy - 0.5f, 0, srcH - 1);
            int y0 = (int)fy, y1 = Math.Min(y0 + 1, srcH - 1);
            float dy = fy - y0;
            for (int x = 0; x < w; x++)
            {
                float fx = Math.Clamp((x + 0.5f) * sx - 0.5f, 0, srcW - 1);
                int x0 = (int)fx, x1 = Math.Min(x0 + 1, srcW - 1);
                float dx = fx - x0;
                for (int ch = 0; ch < 3; ch++)
                {
                    float P(int yy, int xx) => rgb[(yy * srcW + xx) * 3 + ch];
                    float v = (P(y0, x0) * (1 - dx) + P(y0, x1) * dx) * (1 - dy) + (P(y1, x0) * (1 - dx) + P(y1, x1) * dx) * dy;
                    v /= 255f;
                    int outCh = options.Bgr ? 2 - ch : ch;
                    if (options.Mean is { } mean) v -= mean[outCh];
                    if (options.Std is { } std) v /= std[outCh];
                    into[outCh * plane + y * w + x] = v;
                }
            }
        }
    }
}
