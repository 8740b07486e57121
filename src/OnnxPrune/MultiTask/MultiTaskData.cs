using OnnxPrune.Data;
using OnnxPrune.Tensors;

namespace OnnxPrune.MultiTask;

/// <summary>
/// Builds the data of a multi-task model from a labelled image set: one input and one target per task, keyed by the
/// task's name (class id, derived category, or the image area-averaged to the reconstruction size).
/// </summary>
public static class MultiTaskData
{
    /// <summary>
    /// A <see cref="TensorDataset"/> holding <paramref name="images"/> (input <see cref="ImageDataset.InputKey"/>) and a
    /// target per task of <paramref name="spec"/>.
    /// </summary>
    /// <exception cref="UnsupportedModelException">A class id has no category, or the image size is not a multiple of a reconstruction size.</exception>
    public static TensorDataset Build(ImageDataset images, MultiTaskSpec spec)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(spec);
        var data = TensorDataset.From(images);
        var labels = images.Labels.ToArray();
        foreach (var task in spec.Tasks)
            data = data.WithTarget(task.Name, Target(images, labels, task, spec.Source));
        return data;
    }

    private static Tensor Target(ImageDataset images, long[] labels, TaskSpec task, string? source)
    {
        switch (task.Target.Kind)
        {
            case TaskTargetKind.Label:
                return Tensor.FromArray<long>(labels, labels.Length);
            case TaskTargetKind.Categories:
            {
                var map = task.Target.CategoryOfClass!;
                var coarse = new long[labels.Length];
                for (int i = 0; i < labels.Length; i++)
                    coarse[i] = map.TryGetValue(labels[i], out long c) ? c
                        : throw new UnsupportedModelException($"{source ?? "tasks"}: task '{task.Name}' maps no category to class {labels[i]} of {images.Name}.");
                return Tensor.FromArray<long>(coarse, coarse.Length);
            }
            default:
                return Downsample(images, task.Target.Height, task.Target.Width, task, source);
        }
    }

    /// <summary>Area average of each image to <paramref name="height"/> × <paramref name="width"/> (integer factors).</summary>
    private static Tensor Downsample(ImageDataset images, int height, int width, TaskSpec task, string? source)
    {
        if (images.Height % height != 0 || images.Width % width != 0)
            throw new UnsupportedModelException(
                $"{source ?? "tasks"}: task '{task.Name}' reconstructs {height}×{width}, which does not divide {images.Name}'s {images.Height}×{images.Width} images.");
        int fy = images.Height / height, fx = images.Width / width, c = images.Channels;
        var result = new float[(long)images.Count * c * height * width];
        float scale = 1f / (fy * fx);
        for (int n = 0; n < images.Count; n++)
        {
            var image = images.Image(n);
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < height; y++)
                    for (int x = 0; x < width; x++)
                    {
                        float sum = 0;
                        for (int dy = 0; dy < fy; dy++)
                            for (int dx = 0; dx < fx; dx++)
                                sum += image[(ch * images.Height + y * fy + dy) * images.Width + x * fx + dx];
                        result[(((long)n * c + ch) * height + y) * width + x] = sum * scale;
                    }
        }
        return Tensor.FromArray<float>(result, images.Count, c, height, width);
    }
}
