using OnnxPrune.Analysis;
using OnnxPrune.Pruning;
using OnnxPrune.Pruning.Importance;
using OnnxPrune.Tasks;

namespace OnnxPrune.Tests.Tasks;

/// <summary>The score mask: weighted votes of the neighbours' keep-masks, the tie-break, agreement.</summary>
public class ScoreMaskTests
{
    private static TaskNeighbor N(string id, double similarity, Dictionary<string, (long, long[])> masks, string fp = TaskEntries.BaseA) =>
        new(TaskEntries.Make([0], masks, fp) with { Id = id }, similarity);

    [Test]
    public void UniformVotesAreTheFractionOfNeighboursThatKeptEachUnit()
    {
        var r = ScoreMask.Combine([N("a", 0.9, new() { ["g"] = (4, [0, 1]) }), N("b", 0.5, new() { ["g"] = (4, [0, 2]) }), N("c", 0.1, new() { ["g"] = (4, [0, 1]) })],
            VoteWeighting.Uniform);
        Assert.That(r.Weights, Is.EqualTo(new[] { 1 / 3.0, 1 / 3.0, 1 / 3.0 }).Within(1e-12));
        Assert.That(r.Scores["g"], Is.EqualTo(new[] { 1f, 2 / 3f, 1 / 3f, 0f }).Within(1e-6));
        Assert.That(r.Epsilon, Is.Zero);
    }

    [Test]
    public void SimilarityWeightsAreTheNormalisedNonNegativeSimilarities()
    {
        var r = ScoreMask.Combine([N("a", 0.6, new() { ["g"] = (3, [0]) }), N("b", 0.3, new() { ["g"] = (3, [1]) }), N("c", -0.1, new() { ["g"] = (3, [2]) })]);
        Assert.That(r.Weights, Is.EqualTo(new[] { 2 / 3.0, 1 / 3.0, 0 }).Within(1e-12));
        Assert.That(r.Scores["g"], Is.EqualTo(new[] { 2 / 3f, 1 / 3f, 0f }).Within(1e-6));
        var allNegative = ScoreMask.Combine([N("a", -0.5, new() { ["g"] = (2, [0]) }), N("b", 0, new() { ["g"] = (2, [0, 1]) })]);
        Assert.That(allNegative.Weights, Is.EqualTo(new[] { 0.5, 0.5 }), "no positive similarity: uniform");
    }

    [Test]
    public void ANeighbourWithoutAGroupAbstainsThere()
    {
        var r = ScoreMask.Combine([N("a", 1, new() { ["g"] = (2, [0]), ["h"] = (3, [2]) }), N("b", 1, new() { ["g"] = (2, [1]) })], VoteWeighting.Uniform);
        Assert.That(r.Scores["g"], Is.EqualTo(new[] { 0.5f, 0.5f }));
        Assert.That(r.Scores["h"], Is.EqualTo(new[] { 0f, 0f, 1f }), "only a voted on h");
    }

    [Test]
    public void TheTieBreakDecidesOnlyAmongEqualVotes()
    {
        var neighbours = new[] { N("a", 1, new() { ["g"] = (4, [0, 1]) }), N("b", 1, new() { ["g"] = (4, [0, 2]) }) };
        // Votes: 1, 0.5, 0.5, 0. The tie-break prefers unit 3, then 2 — it may reorder only units 1 and 2.
        var r = ScoreMask.Combine(neighbours, VoteWeighting.Uniform, new Dictionary<string, float[]> { ["g"] = [0, 1, 5, 100] });
        var s = r.Scores["g"];
        Assert.That(s[0], Is.GreaterThan(s[2]));
        Assert.That(s[2], Is.GreaterThan(s[1]));
        Assert.That(s[1], Is.GreaterThan(s[3]));
        Assert.That(r.Epsilon, Is.GreaterThan(0).And.LessThanOrEqualTo(1e-3));
        Assert.That(s, Has.All.InRange(0f, 1f));
    }

    [Test]
    public void ATieBreakNeverOverturnsAVoteDifferenceAcrossAllGroups()
    {
        var random = new Random(11);
        for (int trial = 0; trial < 200; trial++)
        {
            int k = random.Next(1, 6), groups = random.Next(1, 4);
            var neighbours = new List<TaskNeighbor>();
            for (int n = 0; n < k; n++)
            {
                var masks = new Dictionary<string, (long, long[])>();
                for (int g = 0; g < groups; g++)
                {
                    long size = 3 + g * 5;
                    masks[$"g{g}"] = (size, Enumerable.Range(0, (int)size).Where(_ => random.Next(2) == 0).Select(u => (long)u).ToArray());
                }
                neighbours.Add(N($"n{n}", random.NextDouble() * 2 - 0.5, masks));
            }
            var weighting = trial % 2 == 0 ? VoteWeighting.Uniform : VoteWeighting.Similarity;
            var tie = Enumerable.Range(0, groups).ToDictionary(g => $"g{g}", g => Enumerable.Range(0, 3 + g * 5).Select(_ => (float)(random.NextDouble() * 1e4)).ToArray());
            var plain = ScoreMask.Combine(neighbours, weighting);
            var broken = ScoreMask.Combine(neighbours, weighting, tie);
            var units = plain.Scores.SelectMany(kv => kv.Value.Select((v, u) => (Vote: (double)v, Final: broken.Scores[kv.Key][u], Tie: tie[kv.Key][u], Key: kv.Key))).ToList();
            Assert.That(units.Select(x => x.Final), Has.All.InRange(0f, 1f));
            foreach (var x in units)
                foreach (var y in units)
                {
                    if (x.Vote > y.Vote + ScoreMask.VoteResolution)
                        Assert.That(x.Final, Is.GreaterThan(y.Final), $"trial {trial}: vote {x.Vote} > {y.Vote} was overturned");
                }
            // Within one group, equal votes are ordered by the tie-break.
            foreach (var g in units.GroupBy(x => (x.Key, x.Vote)))
                foreach (var x in g)
                    foreach (var y in g)
                        if (x.Tie > y.Tie * 1.01 + 1) Assert.That(x.Final, Is.GreaterThanOrEqualTo(y.Final), $"trial {trial}: tie-break ignored");
        }
    }

    [Test]
    public void BadInputsAreTypedErrors()
    {
        Assert.That(() => ScoreMask.Combine([]), Throws.ArgumentException);
        var a = N("a", 1, new() { ["g"] = (4, [0]) });
        Assert.That(() => ScoreMask.Combine([a], tieBreak: new Dictionary<string, float[]> { ["g"] = [1, 2] }),
            Throws.ArgumentException.With.Message.Contains("'g'").And.Message.Contains("4 units"));
        var wrongSize = N("b", 1, new() { ["g"] = (5, [0]) });
        Assert.That(() => ScoreMask.Combine([a, wrongSize]), Throws.TypeOf<TaskLibraryException>().With.Message.Contains("'g'").And.Message.Contains("4").And.Message.Contains("5"));
        var foreign = N("c", 1, new() { ["g"] = (4, [0]) }, TaskEntries.BaseB);
        var ex = Assert.Throws<BaseModelMismatchException>(() => ScoreMask.Combine([a, foreign]))!;
        Assert.That(ex.Message, Does.Contain(TaskEntries.BaseA).And.Contain(TaskEntries.BaseB));
        var other = Assert.Throws<BaseModelMismatchException>(() => ScoreMask.Combine([a], baseFingerprint: TaskEntries.BaseB))!;
        Assert.That((other.Expected, other.Found), Is.EqualTo((TaskEntries.BaseB, TaskEntries.BaseA)));
        Assert.That(ScoreMask.Combine([a], baseFingerprint: TaskEntries.BaseA).Scores["g"], Is.EqualTo(new[] { 1f, 0, 0, 0 }));
    }

    [Test]
    public void AgreementIsTheIoUOfKeptUnitsPooledOverGroups()
    {
        var a = N("a", 1, new() { ["g"] = (4, [1, 2, 3]), ["h"] = (2, [0]) });
        var kept = new Dictionary<string, IReadOnlyList<long>> { ["g"] = [0, 1, 2], ["h"] = [0, 1], ["other"] = [0] };
        var agreement = ScoreMask.Agreement(kept, [a]).Single();
        // g: ∩ {1,2} = 2, ∪ = 4; h: ∩ 1, ∪ 2 → 3 / 6.
        Assert.That(agreement.IoU, Is.EqualTo(0.5));
        Assert.That(agreement.Groups, Is.EqualTo(2));
        Assert.That(agreement.EntryId, Is.EqualTo("a"));
        Assert.That(ScoreMask.Agreement(ScoreMask.KeptOf(a.Entry), a.Entry).IoU, Is.EqualTo(1));
    }

    [Test]
    public void ThePlannerTurnsTheScoreMaskIntoTheBestVotedKeepMasks()
    {
        // The route adapt will take: entries keyed by group key → score mask → external scores → planner. The root
        // node name stands in for the stable group key here.
        var model = TestModels.SmallCnn();
        var groups = DependencyAnalyzer.Analyze(model).Groups;
        var prunable = groups.Where(g => !g.IsBlocked).ToList();
        Assert.That(prunable, Is.Not.Empty);
        var random = new Random(3);
        var neighbours = Enumerable.Range(0, 3).Select(n => N($"n{n}", 1, prunable.ToDictionary(g => g.Root.Name,
            g => (g.Size, Enumerable.Range(0, (int)g.Size).Where(_ => random.Next(2) == 0).Select(u => (long)u).ToArray())))).ToList();
        var l2 = Criteria.Create("l2").ScoreAsync(ImportanceContext.For(model, groups)).AsTask().Result;
        var tie = prunable.ToDictionary(g => g.Root.Name, g => l2.TryGet(g.Id, out var s) ? s.Select(x => (float)x).ToArray() : new float[g.Size]);
        var mask = ScoreMask.Combine(neighbours, VoteWeighting.Uniform, tie);

        var external = ExternalScores.ByRootName(mask.Scores.ToDictionary(kv => kv.Key, kv => kv.Value.Select(x => (double)x).ToArray()), "votes");
        var scores = external.ScoreAsync(ImportanceContext.For(model, groups)).AsTask().Result;
        var plan = BudgetPlanner.Plan(groups, scores, new UniformRatioBudget(0.5));
        foreach (var m in plan.Masks.Where(m => !m.Group.IsBlocked))
        {
            var s = mask.Scores[m.Group.Root.Name];
            var keptSet = m.Kept.ToHashSet();
            double worstKept = m.Kept.Min(u => s[u]);
            double bestRemoved = Enumerable.Range(0, s.Length).Where(u => !keptSet.Contains(u)).Select(u => (double)s[u]).DefaultIfEmpty(double.NegativeInfinity).Max();
            Assert.That(worstKept, Is.GreaterThanOrEqualTo(bestRemoved), $"group {m.Group.Root.Name}: the planner kept the best-voted units");
        }
        var final = plan.Masks.ToDictionary(m => m.Group.Root.Name, m => m.Kept);
        var agreement = ScoreMask.Agreement(final, neighbours);
        Assert.That(agreement, Has.Count.EqualTo(3));
        Assert.That(agreement.Select(a => a.IoU), Has.All.InRange(0.0, 1.0));
    }
}
