using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Pruning;
using OnnxPrune.Tensors;

namespace OnnxPrune.Tests.Pruning;

/// <summary>
/// A minimal stand-in for the real surgery (branch analysis), for testing the pipeline on hand-built groups:
/// slices constants, shrinks declared dims and rewrites attributes. Not for real models.
/// </summary>
internal static class SliceOnlySurgery
{
    public static void Apply(OnnxModel model, IReadOnlyList<KeepMask> masks, CancellationToken cancellationToken = default)
    {
        foreach (var mask in masks.Where(m => !m.KeepsAll))
            foreach (var item in mask.Group.Items)
            {
                switch (item)
                {
                    case ConstantSliceItem s:
                        var c = s.Value.Constant!;
                        c.Data = Slice(c.Data, s.Axis, s.Map.KeptPositions(mask.Kept));
                        break;
                    case ValueDimItem d:
                        if (d.Value.Shape is { } shape)
                        {
                            var dims = shape.ToArray();
                            dims[d.Axis] = new Dim(d.Map.KeptPositions(mask.Kept).Length);
                            d.Value.Shape = dims;
                        }
                        break;
                    case AttributeItem a:
                        a.Owner.Attributes.Set(a.Name, mask.Kept.Count * a.Factor);
                        break;
                }
            }
    }

    public static Tensor Slice(Tensor t, int axis, long[] keep)
    {
        int size = ElementTypes.SizeOf(t.ElementType);
        long outer = 1, inner = size;
        for (int d = 0; d < axis; d++) outer *= t.Shape[d];
        for (int d = axis + 1; d < t.Rank; d++) inner *= t.Shape[d];
        long len = t.Shape[axis];
        var data = new byte[outer * keep.Length * inner];
        long o2 = 0;
        for (long o = 0; o < outer; o++)
            foreach (var p in keep)
            {
                Array.Copy(t.RawData, (o * len + p) * inner, data, o2, inner);
                o2 += inner;
            }
        var shape = t.Shape.ToArray();
        shape[axis] = keep.Length;
        return new Tensor(t.ElementType, shape, data);
    }
}
