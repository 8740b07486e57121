using System.Text.RegularExpressions;
using OnnxPrune.Tasks;

namespace OnnxPrune.Tests.Tasks;

/// <summary>Task lists and shards for <c>library fill</c>, and the fleet artifacts that use them.</summary>
public class TaskListTests
{
    [Test]
    public void ParsesClassesLabelsCommentsAndBlankLines()
    {
        var tasks = TaskList.Parse("# pool\n0,3,7\n\n1,2,9   bags and boots  # comment\r\n  4,5 \n", "TASKS.txt");
        Assert.That(tasks, Has.Count.EqualTo(3));
        Assert.That(tasks.Select(t => t.Index), Is.EqualTo(new[] { 0, 1, 2 }));
        Assert.That(tasks.Select(t => t.Line), Is.EqualTo(new[] { 2, 4, 5 }));
        Assert.That(tasks[0].Classes, Is.EqualTo(new[] { 0, 3, 7 }));
        Assert.That(tasks[0].Label, Is.Null);
        Assert.That(tasks[1].Classes, Is.EqualTo(new[] { 1, 2, 9 }));
        Assert.That(tasks[1].Label, Is.EqualTo("bags and boots"));
        Assert.That(tasks[2].Classes, Is.EqualTo(new[] { 4, 5 }));
        var d = tasks[1].ToDescriptor("fashion-mnist");
        Assert.That(d.Describe(), Is.EqualTo("fashion-mnist [1,2,9] \"bags and boots\""));
        Assert.That(d.SameTask(new TaskDescriptor { DataSet = "fashion-mnist", Classes = [9, 1, 2], Label = "bags and boots" }), Is.True);
    }

    [Test]
    public void MalformedListsNameTheFileAndLine()
    {
        var e1 = Assert.Throws<TaskListFormatException>(() => TaskList.Parse("0,1,2\n0,x,2\n", "T.txt"))!;
        Assert.That(e1.Message, Does.StartWith("T.txt:2:").And.Contain("'x'"));
        Assert.That(e1.Line, Is.EqualTo(2));
        Assert.That(e1.Path, Is.EqualTo("T.txt"));
        Assert.That(() => TaskList.Parse("0,1,1"), Throws.TypeOf<TaskListFormatException>().With.Message.Contains("twice"));
        Assert.That(() => TaskList.Parse("0,1,2\n2,1,0"), Throws.TypeOf<TaskListFormatException>().With.Message.Contains("line 1"));
        Assert.That(() => TaskList.Parse("# nothing\n\n", "E.txt"), Throws.TypeOf<TaskListFormatException>().With.Message.Contains("E.txt: no tasks"));
        Assert.That(() => TaskList.Parse("-1,2"), Throws.TypeOf<TaskListFormatException>());
        Assert.That(() => TaskList.Load("/nonexistent/tasks.txt"), Throws.InstanceOf<TaskLibraryException>().With.Message.Contains("/nonexistent/tasks.txt"));
    }

    [TestCase("0/1", 0, 1)]
    [TestCase("3/8", 3, 8)]
    [TestCase(" 7/8 ", 7, 8)]
    public void ParsesShards(string text, int index, int count) =>
        Assert.That(ShardSpec.Parse(text), Is.EqualTo(new ShardSpec(index, count)));

    [TestCase("8/8", "[0, 8)")]
    [TestCase("1/0", "at least 1")]
    [TestCase("-1/4", "I/N")]
    [TestCase("1", "I/N")]
    [TestCase("a/b", "I/N")]
    [TestCase("1/2/3", "I/N")]
    public void RefusesBadShards(string text, string message) =>
        Assert.That(() => ShardSpec.Parse(text), Throws.TypeOf<TaskListFormatException>().With.Message.Contains(message).And.Message.Contains(text));

    [Test]
    public void ShardsPartitionTheListByIndexModuloCount()
    {
        for (int taskCount = 1; taskCount <= 23; taskCount++)
        {
            var tasks = TaskList.Parse(string.Join("\n", Enumerable.Range(0, taskCount).Select(i => $"{i},{i + 100}")));
            for (int n = 1; n <= 7; n++)
            {
                var shards = Enumerable.Range(0, n).Select(i => new ShardSpec(i, n).Select(tasks)).ToList();
                Assert.That(shards.SelectMany(s => s.Select(t => t.Index)).Order(), Is.EqualTo(Enumerable.Range(0, taskCount)), $"{taskCount} tasks, {n} shards: every task exactly once");
                Assert.That(shards.Max(s => s.Count) - shards.Min(s => s.Count), Is.LessThanOrEqualTo(1), "balanced");
                for (int i = 0; i < n; i++)
                    Assert.That(shards[i].Select(t => t.Index % n), Has.All.EqualTo(i));
            }
        }
    }

    [Test]
    public void TheIndexedJobRunsOneShardPerCompletionIndex()
    {
        var path = Path.Combine(TestPaths.RepoRoot, "deploy", "k8s", "library-fill.yaml");
        Assert.That(File.Exists(path), Is.True, path);
        var yaml = File.ReadAllText(path);
        Assert.That(yaml, Does.Match(@"kind:\s*Job"));
        Assert.That(yaml, Does.Match(@"completionMode:\s*Indexed"));
        int completions = int.Parse(Regex.Match(yaml, @"completions:\s*(\d+)").Groups[1].Value);
        var shard = Regex.Match(yaml, @"--shard[""',\s]+\$\(?(JOB_COMPLETION_INDEX)\)?/(\d+)");
        Assert.That(shard.Success, Is.True, "the pod passes --shard $JOB_COMPLETION_INDEX/N");
        Assert.That(int.Parse(shard.Groups[2].Value), Is.EqualTo(completions), "N equals the Job's completions, so every task runs");
        Assert.That(yaml, Does.Contain("library").And.Contain("fill").And.Contain("--tasks").And.Contain("--model").And.Contain("--data"));
        Assert.That(ShardSpec.Parse($"{completions - 1}/{completions}").Index, Is.EqualTo(completions - 1), "the last index is a valid shard");
    }
}
