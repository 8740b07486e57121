using OnnxPrune.Tensors;

namespace OnnxPrune.Data;

/// <summary>
/// A labelled image set in a folder of NumPy files, for data that is not Fashion-MNIST:
/// <c>train_images.npy</c> / <c>train_labels.npy</c> and <c>test_images.npy</c> / <c>test_labels.npy</c>.
/// Images are [N,H,W] (one channel) or [N,C,H,W]; uint8 pixels are scaled to [0, 1], float pixels are taken as they are
/// (the model's own normalization applies). Labels are integer class ids [N]; the class count is the largest id + 1 over
/// both splits, unless a <c>classes.txt</c> (one name per line) names them.
/// </summary>
public static class NpyImageSet
{
    /// <summary>Loads the train or test split of the folder.</summary>
    /// <exception cref="FileNotFoundException">A split's file is missing (the message names the expected files).</exception>
    /// <exception cref="DataFormatException">A file is not a usable image or label array (the message names the file).</exception>
    public static ImageDataset Load(string folder, bool train)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        var split = train ? "train" : "test";
        var imagesPath = Require(folder, $"{split}_images.npy");
        var labelsPath = Require(folder, $"{split}_labels.npy");
        var images = NpyFile.Read(imagesPath);
        var labels = NpyFile.Read(labelsPath);

        var shape = images.Shape;
        if (shape.Count is not (3 or 4) || shape.Any(d => d <= 0))
            throw new DataFormatException(imagesPath, $"{imagesPath}: images must be [N,H,W] or [N,C,H,W], got {Tensor.FormatShape(shape.ToArray())}.");
        if (images.ElementType is not (ElementType.UInt8 or ElementType.Float or ElementType.Float16 or ElementType.Double))
            throw new DataFormatException(imagesPath, $"{imagesPath}: pixels must be uint8 or floating point, got {images.ElementType}.");
        if (labels.Shape.Count != 1 || labels.Shape[0] != shape[0])
            throw new DataFormatException(labelsPath, $"{labelsPath}: labels must be [{shape[0]}] (one per image), got {Tensor.FormatShape(labels.Shape.ToArray())}.");
        if (labels.ElementType is not (ElementType.Int64 or ElementType.Int32 or ElementType.Int16 or ElementType.Int8 or ElementType.UInt8))
            throw new DataFormatException(labelsPath, $"{labelsPath}: labels must be integer class ids, got {labels.ElementType}.");

        var pixels = images.ToFloatArray();
        if (images.ElementType == ElementType.UInt8)
            System.Numerics.Tensors.TensorPrimitives.Divide(pixels, 255f, pixels); // as FashionMnist does, so the same pixels give the same floats
        var ids = labels.ToFloatArray().Select(v => (long)v).ToArray();
        if (ids.FirstOrDefault(l => l < 0, 0) is < 0 and var negative)
            throw new DataFormatException(labelsPath, $"{labelsPath}: class id {negative} is negative.");

        var classNames = ClassNames(folder, labelsPath, ids);
        int channels = shape.Count == 4 ? (int)shape[1] : 1;
        return new ImageDataset($"npy:{folder}/{split}", pixels, ids, channels, (int)shape[^2], (int)shape[^1], classNames);
    }

    private static string Require(string folder, string file)
    {
        var path = Path.Combine(folder, file);
        if (!File.Exists(path))
            throw new FileNotFoundException(
                $"{path} not found. An npy data folder holds train_images.npy, train_labels.npy, test_images.npy and test_labels.npy.", path);
        return path;
    }

    // Both splits must agree on the class count, so it comes from classes.txt or the larger largest id of the two.
    private static string[] ClassNames(string folder, string labelsPath, long[] ids)
    {
        var namesPath = Path.Combine(folder, "classes.txt");
        long maxId = ids.Length == 0 ? -1 : ids.Max();
        if (File.Exists(namesPath))
        {
            var names = File.ReadAllLines(namesPath).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
            if (maxId >= names.Length)
                throw new DataFormatException(labelsPath, $"{labelsPath}: class id {maxId} but {namesPath} names only {names.Length} classes.");
            return names;
        }
        foreach (var other in new[] { "train_labels.npy", "test_labels.npy" })
        {
            var path = Path.Combine(folder, other);
            if (path == labelsPath || !File.Exists(path)) continue;
            var t = NpyFile.Read(path);
            if (t.ElementCount > 0) maxId = Math.Max(maxId, (long)t.ToFloatArray().Max());
        }
        return Enumerable.Range(0, (int)(maxId + 1)).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }
}
