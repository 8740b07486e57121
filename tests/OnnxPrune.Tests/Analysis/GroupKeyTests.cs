using OnnxPrune.Analysis;
using OnnxPrune.Graph;
using OnnxPrune.Onnx;
using OnnxPrune.Tensors;
using OnnxPrune.Tests.Pruning;

namespace OnnxPrune.Tests.Analysis;

/// <summary>Group keys and model fingerprints: the stable identities scores and masks are bound to.</summary>
public class GroupKeyTests
{
    private static string[] Keys(OnnxModel model) => DependencyAnalyzer.Analyze(model).Groups.Select(g => g.Key).ToArray();

    [TestCaseSource(typeof(TestPaths), nameof(TestPaths.SharedModelNames))]
    public void KeysAndFingerprintSurviveReanalysisSaveLoadExternalDataAndStrippedNodeNames(string file)
    {
        var model = OnnxModel.Load(TestPaths.SharedModel(file));
        var keys = Keys(model);
        Assert.That(keys, Is.Not.Empty);
        Assert.That(keys, Has.All.Not.Empty);
        Assert.That(keys.Distinct().Count(), Is.EqualTo(keys.Length), "unique: " + string.Join(", ", keys.GroupBy(k => k).Where(g => g.Count() > 1).Select(g => g.Key)));
        Assert.That(keys.Where(k => k.Contains('~')), Is.Empty, "the fallback suffix is never needed on these models");
        Assert.That(Keys(model), Is.EqualTo(keys), "a second analysis");
        var fingerprint = ModelFingerprint.Of(model);
        Assert.That(fingerprint.Hex, Has.Length.EqualTo(64));
        Assert.That(ModelFingerprint.Of(model), Is.EqualTo(fingerprint));

        var path = Path.Combine(TestPaths.TempDir(), "external.onnx");
        model.Save(path, new ModelSaveOptions { ExternalData = ExternalDataMode.External, ExternalDataThreshold = 0 });
        var converted = OnnxModel.Load(path);
        Assert.That(Keys(converted), Is.EqualTo(keys), "after saving with external data and loading");
        Assert.That(ModelFingerprint.Of(converted), Is.EqualTo(fingerprint), "after saving with external data and loading");

        var stripped = OnnxModel.FromBytes(model.ToBytes(), "stripped");
        foreach (var node in stripped.Graph.Nodes) node.Name = "";
        var strippedKeys = Keys(OnnxModel.FromBytes(stripped.ToBytes(), "stripped"));
        Assert.That(strippedKeys, Is.EqualTo(keys), "after stripping every node name");
        Assert.That(ModelFingerprint.Of(stripped), Is.EqualTo(fingerprint), "after stripping every node name");
    }

    [Test]
    public void FingerprintChangesWithAnyWeightOrStructureAndParsesBack()
    {
        var model = OnnxModel.Load(TestPaths.SharedModel("resnet20_cifar10_sclbl.onnx"));
        var fingerprint = ModelFingerprint.Of(model);
        Assert.That(ModelFingerprint.Parse(fingerprint.ToString()), Is.EqualTo(fingerprint));
        Assert.That(ModelFingerprint.Parse("sha256:" + fingerprint.Hex.ToUpperInvariant()), Is.EqualTo(fingerprint));
        Assert.Throws<FormatException>(() => ModelFingerprint.Parse("sha256:abc"));

        var weight = model.Graph.Constants.First(c => c.ElementType == ElementType.Float && c.ElementCount > 1);
        var data = weight.Data;
        data.AsSpan<float>()[0] += 1e-3f;
        weight.Data = data;
        var edited = ModelFingerprint.Of(model);
        Assert.That(edited, Is.Not.EqualTo(fingerprint), "one weight changed");

        var other = OnnxModel.Load(TestPaths.SharedModel("resnet20_cifar10_sclbl.onnx"));
        var relu = other.Graph.Nodes.First(n => n.OpType == "Relu");
        relu.Attributes.Set("unused_attribute", 1L);
        Assert.That(ModelFingerprint.Of(other), Is.Not.EqualTo(fingerprint), "an attribute added");

        var ex = Assert.Throws<ModelMismatchException>(() => fingerprint.EnsureMatches(edited, "masks.json"))!;
        Assert.That(ex.Message, Does.Contain(fingerprint.ToString()).And.Contain(edited.ToString()).And.Contain("masks.json"));
        Assert.DoesNotThrow(() => fingerprint.EnsureMatches(ModelFingerprint.Parse(fingerprint.Hex), "masks.json"));
    }

    [Test]
    public void GroupsCarvedOutOfOneRootByASplitGetDistinctRegionKeys()
    {
        var f = new ModelFactory(new Random(11), opset: 13);
        var x = f.B.Input("x", ElementType.Float, 1, 3, 6, 6);
        var h = f.B.Relu(f.Conv(x, 3, 7));
        var split = f.B.OpNode("Split", [h, f.B.Int64s("sizes", 3, 4)], 2, ("axis", 1L));
        var y = f.Conv(f.B.Add(f.Conv(split.Output(0)!, 3, 4, 1), f.Conv(split.Output(1)!, 4, 4, 1)), 4, 2, 1);
        f.B.Output(y, ElementType.Float, 1, 2, 6, 6);
        var model = f.B.Build();
        var groups = DependencyAnalyzer.Analyze(model).Groups;
        var root = h.Producer!.Input(0)!.Producer!;
        var carved = groups.Where(g => g.Root == root).ToList();
        Assert.That(carved, Has.Count.EqualTo(2), string.Join("\n", groups));
        var weight = root.Input(1)!.Name;
        Assert.That(carved.Select(g => g.Key), Is.EqualTo(new[] { $"{weight}:0[0:3]", $"{weight}:0[3:7]" }));
        Assert.That(groups.Where(g => g.Root != root).Select(g => g.Key), Has.None.Contains("["), "groups that own their whole root axis have no region");
    }
}
