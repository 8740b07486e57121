using OnnxPrune.Tensors;

namespace OnnxPrune.Data;

/// <summary>
/// An in-memory labelled image set: images as float32 in [0, 1], layout [N, C, H, W], labels 0..ClassCount-1. As an
/// <see cref="IDataset"/> a batch holds the images under <see cref="InputKey"/> (bound to a model's single data input) and the
/// class ids as int64 [B] under <see cref="LabelKey"/>.
/// </summary>
public sealed class ImageDataset : IDataset
{
    /// <summary>The key of the images in a <see cref="DataBatch"/>.</summary>
    public const string InputKey = "image";

    /// <summary>The key of the class ids (int64 [B]) in a <see cref="DataBatch"/>'s targets.</summary>
    public const string LabelKey = "label";

    private readonly float[] _images;
    private readonly long[] _labels;

    /// <summary>Wraps images (N·C·H·W floats) and labels (N).</summary>
    public ImageDataset(string name, float[] images, long[] labels, int channels, int height, int width, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if ((long)labels.Length * channels * height * width != images.LongLength)
            throw new ArgumentException($"{name}: {images.Length} pixels do not make {labels.Length} images of {channels}×{height}×{width}.");
        foreach (var l in labels)
            if (l < 0 || l >= classNames.Count) throw new ArgumentException($"{name}: label {l} outside [0, {classNames.Count}).");
        Name = name;
        _images = images;
        _labels = labels;
        Channels = channels;
        Height = height;
        Width = width;
        ClassNames = classNames;
    }

    /// <summary>Name for messages, e.g. "fashion-mnist/train {0,3,7}".</summary>
    public string Name { get; }
    /// <summary>Number of images.</summary>
    public int Count => _labels.Length;
    /// <summary>Channels per image.</summary>
    public int Channels { get; }
    /// <summary>Image height.</summary>
    public int Height { get; }
    /// <summary>Image width.</summary>
    public int Width { get; }
    /// <summary>Class names, indexed by label.</summary>
    public IReadOnlyList<string> ClassNames { get; }
    /// <summary>Number of classes.</summary>
    public int ClassCount => ClassNames.Count;
    /// <summary>Floats per image.</summary>
    public int ImageSize => Channels * Height * Width;
    /// <summary>All labels.</summary>
    public ReadOnlySpan<long> Labels => _labels;

    /// <summary>Pixels of image <paramref name="index"/> (C·H·W floats).</summary>
    public ReadOnlySpan<float> Image(int index) => _images.AsSpan(index * ImageSize, ImageSize);

    /// <summary>Label of image <paramref name="index"/>.</summary>
    public long Label(int index) => _labels[index];

    /// <summary>
    /// A task made of a subset of the classes, relabelled 0..k−1 in the order given (classes {0,3,7} → labels 0,1,2).
    /// The pruning-from-similar-tasks method works on many such tasks.
    /// </summary>
    /// <exception cref="ArgumentException">Empty, repeated or unknown classes.</exception>
    public ImageDataset SelectClasses(IReadOnlyList<int> classes)
    {
        ArgumentNullException.ThrowIfNull(classes);
        if (classes.Count == 0) throw new ArgumentException("At least one class is needed.", nameof(classes));
        var map = new int[ClassCount];
        Array.Fill(map, -1);
        for (int i = 0; i < classes.Count; i++)
        {
            int c = classes[i];
            if (c < 0 || c >= ClassCount) throw new ArgumentException($"Class {c} is not in [0, {ClassCount}) for {Name}.", nameof(classes));
            if (map[c] >= 0) throw new ArgumentException($"Class {c} is listed twice.", nameof(classes));
            map[c] = i;
        }
        var picked = Enumerable.Range(0, Count).Where(i => map[_labels[i]] >= 0).ToArray();
        return Take(picked, $"{Name} {{{string.Join(",", classes)}}}", i => map[_labels[i]], classes.Select(c => ClassNames[c]).ToArray());
    }

    /// <summary>Splits into two disjoint sets (seeded shuffle): the first holds <paramref name="firstFraction"/> of the images.</summary>
    public (ImageDataset First, ImageDataset Second) Split(double firstFraction, int seed)
    {
        if (firstFraction is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(firstFraction), "Must be in (0, 1).");
        var order = Enumerable.Range(0, Count).ToArray();
        new Random(seed).Shuffle(order);
        int n = (int)Math.Round(Count * firstFraction);
        var a = order[..n]; Array.Sort(a);
        var b = order[n..]; Array.Sort(b);
        return (Take(a, Name + " (split A)", i => _labels[i], ClassNames), Take(b, Name + " (split B)", i => _labels[i], ClassNames));
    }

    /// <summary>The first <paramref name="count"/> images per class at most (seeded choice), for few-shot tasks.</summary>
    public ImageDataset TakePerClass(int count, int seed)
    {
        var order = Enumerable.Range(0, Count).ToArray();
        new Random(seed).Shuffle(order);
        var perClass = new int[ClassCount];
        var picked = order.Where(i => perClass[_labels[i]]++ < count).ToArray();
        Array.Sort(picked);
        return Take(picked, $"{Name} ({count}/class)", i => _labels[i], ClassNames);
    }

    /// <summary>Images <paramref name="indices"/> as a tensor [k, C, H, W].</summary>
    public Tensor ImagesTensor(ReadOnlySpan<int> indices)
    {
        var t = Tensor.Zeros(ElementType.Float, indices.Length, Channels, Height, Width);
        var dst = t.AsSpan<float>();
        for (int i = 0; i < indices.Length; i++) Image(indices[i]).CopyTo(dst.Slice(i * ImageSize, ImageSize));
        return t;
    }

    /// <summary>Labels <paramref name="indices"/> as an int64 tensor [k].</summary>
    public Tensor LabelsTensor(ReadOnlySpan<int> indices)
    {
        var t = Tensor.Zeros(ElementType.Int64, indices.Length);
        var dst = t.AsSpan<long>();
        for (int i = 0; i < indices.Length; i++) dst[i] = _labels[indices[i]];
        return t;
    }

    /// <inheritdoc/>
    public DataBatch GetBatch(ReadOnlySpan<int> indices) => new(
        new Dictionary<string, Tensor>(StringComparer.Ordinal) { [InputKey] = ImagesTensor(indices) },
        new Dictionary<string, Tensor>(StringComparer.Ordinal) { [LabelKey] = LabelsTensor(indices) });

    /// <summary>One pass in order, 64 images per batch.</summary>
    public IAsyncEnumerable<DataBatch> GetBatchesAsync(CancellationToken cancellationToken = default) => DataProviders.InOrder(this, 64, cancellationToken);

    private ImageDataset Take(int[] indices, string name, Func<int, long> label, IReadOnlyList<string> classNames)
    {
        var images = new float[(long)indices.Length * ImageSize];
        var labels = new long[indices.Length];
        for (int k = 0; k < indices.Length; k++)
        {
            Image(indices[k]).CopyTo(images.AsSpan(k * ImageSize, ImageSize));
            labels[k] = label(indices[k]);
        }
        return new ImageDataset(name, images, labels, Channels, Height, Width, classNames);
    }
}
