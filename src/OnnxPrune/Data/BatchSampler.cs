using OnnxPrune.Tensors;

namespace OnnxPrune.Data;

/// <summary>Augmentations applied to training batches.</summary>
public sealed record Augmentation
{
    /// <summary>No augmentation.</summary>
    public static Augmentation None { get; } = new();
    /// <summary>Pad by this many zero pixels, then crop back at a random offset (0 = off).</summary>
    public int RandomCropPadding { get; init; }
    /// <summary>Mirror left-right with probability 1/2.</summary>
    public bool HorizontalFlip { get; init; }
}

/// <summary>
/// Seeded shuffling and batching of an <see cref="IDataset"/> into <see cref="DataBatch"/>es (for an
/// <see cref="ImageDataset"/> also as [B, C, H, W] float and [B] int64 tensors), with optional augmentation of image
/// batches. The same seed gives the same batches.
/// </summary>
public sealed class BatchSampler
{
    private readonly IDataset _data;
    private readonly ImageDataset? _images;
    private readonly int _batchSize;
    private readonly Augmentation _augmentation;
    private readonly Random _random;
    private int[] _order;
    private int _position;

    /// <summary>Creates a sampler.</summary>
    /// <param name="data">The images.</param>
    /// <param name="batchSize">Images per batch.</param>
    /// <param name="seed">Seed for shuffling and augmentation.</param>
    /// <param name="shuffle">Shuffle each epoch (training) or keep order (evaluation).</param>
    /// <param name="augmentation">Augmentations (of <see cref="ImageDataset"/> images only); default none.</param>
    /// <exception cref="ArgumentException">Augmentation asked of data that are not an <see cref="ImageDataset"/>.</exception>
    public BatchSampler(IDataset data, int batchSize, int seed, bool shuffle = true, Augmentation? augmentation = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (data.Count == 0) throw new ArgumentException($"{data.Name} is empty.", nameof(data));
        _data = data;
        _images = data as ImageDataset;
        _batchSize = batchSize;
        _augmentation = augmentation ?? Augmentation.None;
        if (_images is null && Augments) throw new ArgumentException($"{data.Name}: augmentation applies to image data sets only.", nameof(augmentation));
        _random = new Random(seed);
        Shuffle = shuffle;
        _order = Enumerable.Range(0, data.Count).ToArray();
        if (shuffle) _random.Shuffle(_order);
    }

    /// <summary>Whether each epoch is shuffled.</summary>
    public bool Shuffle { get; }

    /// <summary>Completed passes over the data.</summary>
    public int Epoch { get; private set; }

    /// <summary>Batches per epoch (the last one may be smaller).</summary>
    public int BatchesPerEpoch => (_data.Count + _batchSize - 1) / _batchSize;

    /// <summary>The next full-size batch of images and labels (an <see cref="ImageDataset"/>'s), wrapping into a new (reshuffled) epoch as needed.</summary>
    public (Tensor Images, Tensor Labels) Next() => Make(NextIndices());

    /// <summary>The next full-size batch, wrapping into a new (reshuffled) epoch as needed.</summary>
    public DataBatch NextBatch() => MakeBatch(NextIndices());

    /// <summary>One pass of images and labels in order, the last batch possibly smaller (for evaluation).</summary>
    public IEnumerable<(Tensor Images, Tensor Labels)> Epochs()
    {
        for (int start = 0; start < _data.Count; start += _batchSize)
        {
            int n = Math.Min(_batchSize, _data.Count - start);
            yield return Make(_order.AsSpan(start, n).ToArray());
        }
    }

    /// <summary>One pass in order, the last batch possibly smaller (for evaluation).</summary>
    public IEnumerable<DataBatch> Batches()
    {
        for (int start = 0; start < _data.Count; start += _batchSize)
        {
            int n = Math.Min(_batchSize, _data.Count - start);
            yield return MakeBatch(_order.AsSpan(start, n).ToArray());
        }
    }

    private bool Augments => _augmentation.RandomCropPadding > 0 || _augmentation.HorizontalFlip;

    private int[] NextIndices()
    {
        var indices = new int[_batchSize];
        for (int i = 0; i < _batchSize; i++)
        {
            if (_position == _order.Length) NewEpoch();
            indices[i] = _order[_position++];
        }
        return indices;
    }

    private DataBatch MakeBatch(int[] indices)
    {
        if (_images is null) return _data.GetBatch(indices);
        var (images, labels) = Make(indices);
        return new DataBatch(
            new Dictionary<string, Tensor>(StringComparer.Ordinal) { [ImageDataset.InputKey] = images },
            new Dictionary<string, Tensor>(StringComparer.Ordinal) { [ImageDataset.LabelKey] = labels });
    }

    private void NewEpoch()
    {
        Epoch++;
        _position = 0;
        if (Shuffle) _random.Shuffle(_order);
    }

    private (Tensor, Tensor) Make(int[] indices)
    {
        var data = _images ?? throw new InvalidOperationException($"{_data.Name} is not an image data set; use NextBatch or Batches.");
        var images = data.ImagesTensor(indices);
        if (Augments) Augment(images.AsSpan<float>(), indices.Length);
        return (images, data.LabelsTensor(indices));
    }

    private void Augment(Span<float> batch, int count)
    {
        int c = _images!.Channels, h = _images.Height, w = _images.Width, pad = _augmentation.RandomCropPadding;
        var scratch = new float[c * h * w];
        for (int n = 0; n < count; n++)
        {
            var image = batch.Slice(n * c * h * w, c * h * w);
            int dy = pad > 0 ? _random.Next(-pad, pad + 1) : 0;
            int dx = pad > 0 ? _random.Next(-pad, pad + 1) : 0;
            bool flip = _augmentation.HorizontalFlip && _random.Next(2) == 1;
            if (dy == 0 && dx == 0 && !flip) continue;
            image.CopyTo(scratch);
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                    {
                        // Output pixel (y, x) reads the padded source at (y + dy, x + dx); outside the image is zero padding.
                        int sy = y + dy, sx = flip ? w - 1 - (x + dx) : x + dx;
                        image[(ch * h + y) * w + x] = sy >= 0 && sy < h && sx >= 0 && sx < w ? scratch[(ch * h + sy) * w + sx] : 0f;
                    }
        }
    }
}
