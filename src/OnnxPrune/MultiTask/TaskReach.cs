using OnnxPrune.Analysis;
using OnnxPrune.Graph;

namespace OnnxPrune.MultiTask;

/// <summary>Which task outputs each pruning group feeds: shared groups feed several, head groups one.</summary>
public static class TaskReach
{
    /// <summary>
    /// For every non-blocked group of <paramref name="model"/>, the <paramref name="outputs"/> reachable from its
    /// activations and the nodes whose weights it slices (following consumers forward), in the order given.
    /// </summary>
    public static IReadOnlyDictionary<int, IReadOnlyList<string>> OutputsReached(OnnxModel model, IReadOnlyList<PruningGroup> groups, IReadOnlyList<string> outputs)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(outputs);
        var memo = new Dictionary<Value, HashSet<string>>();
        var wanted = outputs.ToHashSet(StringComparer.Ordinal);
        var result = new Dictionary<int, IReadOnlyList<string>>();
        foreach (var g in groups)
        {
            if (g.IsBlocked) continue;
            var reached = new HashSet<string>(StringComparer.Ordinal);
            foreach (var item in g.Items)
            {
                if (item is ValueDimItem { Value: var v } && v.Constant is null) reached.UnionWith(Reach(v, wanted, memo));
                if (item.Node is { } n)
                    foreach (var o in n.Outputs)
                        if (o is not null) reached.UnionWith(Reach(o, wanted, memo));
            }
            result[g.Id] = outputs.Where(reached.Contains).ToArray();
        }
        return result;
    }

    // Outputs reachable from a value (iterative, memoised: graphs are DAGs).
    private static HashSet<string> Reach(Value start, HashSet<string> wanted, Dictionary<Value, HashSet<string>> memo)
    {
        if (memo.TryGetValue(start, out var known)) return known;
        var stack = new Stack<(Value Value, bool Expanded)>();
        stack.Push((start, false));
        while (stack.Count > 0)
        {
            var (v, expanded) = stack.Pop();
            if (memo.ContainsKey(v)) continue;
            var next = v.Consumers.SelectMany(c => c.Outputs).Where(o => o is not null).Select(o => o!).Distinct().ToList();
            if (!expanded)
            {
                stack.Push((v, true));
                foreach (var o in next)
                    if (!memo.ContainsKey(o)) stack.Push((o, false));
                continue;
            }
            var set = new HashSet<string>(StringComparer.Ordinal);
            if (v.IsGraphOutput && wanted.Contains(v.Name)) set.Add(v.Name);
            foreach (var o in next)
                if (memo.TryGetValue(o, out var s)) set.UnionWith(s);
            memo[v] = set;
        }
        return memo[start];
    }
}
