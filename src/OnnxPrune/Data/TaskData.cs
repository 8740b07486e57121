using OnnxPrune.Graph;

namespace OnnxPrune.Data;

/// <summary>Named data sets and class-subset tasks for training and evaluation.</summary>
public static class TaskData
{
    /// <summary>
    /// Loads a split of a named data set: <c>fashion-mnist</c> (default folder, see <see cref="FashionMnist"/>),
    /// <c>fashion-mnist:FOLDER</c>, or <c>npy:FOLDER</c> (NumPy image and label files, see <see cref="NpyImageSet"/>).
    /// </summary>
    /// <exception cref="ArgumentException">Unknown data set name.</exception>
    public static ImageDataset Load(string spec, bool train)
    {
        ArgumentException.ThrowIfNullOrEmpty(spec);
        int colon = spec.IndexOf(':');
        var name = colon < 0 ? spec : spec[..colon];
        var folder = colon < 0 ? null : spec[(colon + 1)..];
        return name.ToLowerInvariant() switch
        {
            "fashion-mnist" or "fashionmnist" or "fmnist" => FashionMnist.Load(train, folder),
            "npy" when !string.IsNullOrEmpty(folder) => NpyImageSet.Load(folder, train),
            "npy" => throw new ArgumentException("npy data needs its folder: npy:FOLDER.", nameof(spec)),
            _ => throw new ArgumentException($"Unknown data set '{name}'; known: fashion-mnist[:FOLDER], npy:FOLDER.", nameof(spec)),
        };
    }

    /// <summary>
    /// The images of <paramref name="classes"/> (all when null). When the model's head still has one output per class of the
    /// full set, labels keep their original class ids; when it has exactly one output per task class, they are relabelled
    /// 0..k−1 in the order given (see <see cref="ImageDataset.SelectClasses"/>).
    /// </summary>
    /// <exception cref="UnsupportedModelException">The model's output count fits neither.</exception>
    public static ImageDataset ForTask(ImageDataset full, IReadOnlyList<int>? classes, long modelOutputs)
    {
        ArgumentNullException.ThrowIfNull(full);
        if (classes is null || classes.Count == 0)
        {
            if (modelOutputs > 0 && modelOutputs < full.ClassCount)
                throw new UnsupportedModelException($"The model has {modelOutputs} outputs but {full.Name} has {full.ClassCount} classes; pass the task's classes.");
            return full;
        }
        var subset = full.SelectClasses(classes);
        if (modelOutputs == classes.Count || modelOutputs <= 0) return subset;
        if (modelOutputs < full.ClassCount)
            throw new UnsupportedModelException($"The model has {modelOutputs} outputs: neither the task's {classes.Count} classes nor all {full.ClassCount}.");
        // Keep the original class ids: copy the subset's images with labels mapped back.
        var images = new float[(long)subset.Count * subset.ImageSize];
        var labels = new long[subset.Count];
        for (int i = 0; i < subset.Count; i++)
        {
            subset.Image(i).CopyTo(images.AsSpan(i * subset.ImageSize, subset.ImageSize));
            labels[i] = classes[(int)subset.Label(i)];
        }
        return new ImageDataset(subset.Name, images, labels, subset.Channels, subset.Height, subset.Width, full.ClassNames);
    }

    /// <summary>
    /// Checks that <paramref name="data"/>'s images fit a model input of shape <paramref name="inputShape"/>
    /// ([N, C, H, W]; negative dims are dynamic and fit anything).
    /// </summary>
    /// <exception cref="UnsupportedModelException">The input is not rank 4 or a static C, H or W differs.</exception>
    public static void EnsureImagesFit(string inputName, IReadOnlyList<long> inputShape, ImageDataset data)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        ArgumentNullException.ThrowIfNull(data);
        long[] image = [data.Channels, data.Height, data.Width];
        if (inputShape.Count != 4 || Enumerable.Range(0, 3).Any(i => inputShape[i + 1] >= 0 && inputShape[i + 1] != image[i]))
            throw new UnsupportedModelException(
                $"The model's input '{inputName}' is [{string.Join(",", inputShape.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]; " +
                $"{data.Name} has {data.Channels}×{data.Height}×{data.Width} images.");
    }

    /// <summary>The static size of the last axis of the model's first output (its class count), or −1 when unknown.</summary>
    public static long OutputClasses(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var shape = model.Graph.Outputs.FirstOrDefault()?.Shape;
        return shape is { Count: > 0 } && shape[^1].Value is long k ? k : -1;
    }

    /// <summary>Parses a class list such as <c>0,3,7</c>.</summary>
    /// <exception cref="ArgumentException">Not a comma-separated list of integers.</exception>
    public static int[] ParseClasses(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return [];
        try
        {
            return text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"--classes expects comma-separated class ids such as 0,3,7; got '{text}'.", nameof(text), e);
        }
    }
}
