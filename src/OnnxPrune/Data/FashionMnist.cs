namespace OnnxPrune.Data;

/// <summary>
/// Fashion-MNIST (Zalando; 60,000 training and 10,000 test images of 28×28 grey clothes, 10 classes), read from
/// IDX files. Default folder: Debian's <c>dataset-fashion-mnist</c> package; <c>ONNXPRUNE_FASHION_MNIST</c> overrides it.
/// </summary>
public static class FashionMnist
{
    /// <summary>Where Debian's dataset-fashion-mnist puts the files.</summary>
    public const string DebianFolder = "/usr/share/datasets/fashion-mnist";

    /// <summary>Environment variable naming another folder with the four IDX files.</summary>
    public const string FolderVariable = "ONNXPRUNE_FASHION_MNIST";

    /// <summary>The ten class names, by label.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>The folder used when none is given: the environment variable, else Debian's.</summary>
    public static string DefaultFolder => Environment.GetEnvironmentVariable(FolderVariable) is { Length: > 0 } v ? v : DebianFolder;

    /// <summary>Loads the training or test split; pixels are scaled to [0, 1] (raw/255).</summary>
    /// <exception cref="FileNotFoundException">The files are missing; the message says how to install them.</exception>
    public static ImageDataset Load(bool train, string? folder = null)
    {
        folder ??= DefaultFolder;
        var prefix = train ? "train" : "t10k";
        var images = Find(folder, $"{prefix}-images-idx3-ubyte");
        var labels = Find(folder, $"{prefix}-labels-idx1-ubyte");
        var (imageDims, pixels) = IdxFile.ReadBytes(images);
        var (labelDims, labelBytes) = IdxFile.ReadBytes(labels);
        if (imageDims.Length != 3 || labelDims.Length != 1 || imageDims[0] != labelDims[0])
            throw new DataFormatException(images, $"{images}: expected [N,28,28] images and [N] labels, got [{string.Join(",", imageDims)}] and [{string.Join(",", labelDims)}].");
        var floats = new float[pixels.Length];
        for (int i = 0; i < pixels.Length; i++) floats[i] = pixels[i] / 255f;
        var ls = new long[labelBytes.Length];
        for (int i = 0; i < ls.Length; i++) ls[i] = labelBytes[i];
        return new ImageDataset($"fashion-mnist/{(train ? "train" : "test")}", floats, ls, 1, imageDims[1], imageDims[2], ClassNames);
    }

    private static string Find(string folder, string stem)
    {
        foreach (var candidate in new[] { stem, stem + ".gz", stem.Replace("-idx", ".idx", StringComparison.Ordinal) })
        {
            var path = Path.Combine(folder, candidate);
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException(
            $"Fashion-MNIST file '{stem}(.gz)' not found in {folder}. Install Debian's dataset-fashion-mnist " +
            $"(apt-get install dataset-fashion-mnist) or set {FolderVariable} to a folder holding the IDX files.");
    }
}
