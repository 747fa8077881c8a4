using Campus.Mqtt.Server.Routing;

namespace Campus.Mqtt.Server.Tests;

public sealed class RoutingTests
{
    private sealed class Sub(string name)
    {
        public override string ToString() => name;
    }

    private static string[] Match(SubscriptionTree<Sub> tree, string topic)
    {
        var c = new MatchCollector<Sub>();
        tree.Match(topic, c);
        var result = new List<string>();
        foreach (var s in c.Items) result.Add($"{s.Subscriber}:{s.Qos}");
        result.Sort(StringComparer.Ordinal);
        return [.. result];
    }

    [Fact]
    public void Tree_matches_plus_and_hash_wildcards_and_hash_matches_the_parent_level()
    {
        var tree = new SubscriptionTree<Sub>();
        Sub a = new("a"), b = new("b"), c = new("c"), d = new("d"), e = new("e");
        tree.Subscribe("campus/v1/s01/+/energy/+/telemetry", a, 0);
        tree.Subscribe("campus/v1/#", b, 1);
        tree.Subscribe("campus/v1/s01/r101/energy/m1/telemetry", c, 2);
        tree.Subscribe("#", d, 0);
        tree.Subscribe("campus/+", e, 0);

        Assert.Equal(["a:0", "b:1", "c:2", "d:0"], Match(tree, "campus/v1/s01/r101/energy/m1/telemetry"));
        Assert.Equal(["b:1", "d:0", "e:0"], Match(tree, "campus/v1"));
        Assert.Equal(["d:0", "e:0"], Match(tree, "campus/x"));
        Assert.Equal(["d:0"], Match(tree, "campus"));
        Assert.Equal(["d:0", "e:0"], Match(tree, "campus/"));
    }

    [Fact]
    public void Wildcards_at_the_first_level_do_not_match_dollar_topics()
    {
        var tree = new SubscriptionTree<Sub>();
        Sub all = new("all"), plus = new("plus"), sys = new("sys");
        tree.Subscribe("#", all, 0);
        tree.Subscribe("+/broker/load", plus, 0);
        tree.Subscribe("$SYS/#", sys, 0);
        Assert.Equal(["sys:0"], Match(tree, "$SYS/broker/load"));
        Assert.Equal(["all:0", "plus:0"], Match(tree, "x/broker/load"));
    }

    [Fact]
    public void Overlapping_subscriptions_of_one_subscriber_merge_to_the_highest_qos()
    {
        var tree = new SubscriptionTree<Sub>();
        var s = new Sub("s");
        tree.Subscribe("a/#", s, 0);
        tree.Subscribe("a/+", s, 2);
        tree.Subscribe("a/b", s, 1);
        Assert.Equal(["s:2"], Match(tree, "a/b"));
    }

    [Fact]
    public void Unsubscribe_removes_only_that_filter_and_prunes_empty_branches()
    {
        var tree = new SubscriptionTree<Sub>();
        Sub s = new("s"), t = new("t");
        tree.Subscribe("a/b/c", s, 1);
        tree.Subscribe("a/b/c", t, 1);
        tree.Subscribe("a/+/c", s, 0);
        Assert.True(tree.Unsubscribe("a/b/c", s));
        Assert.False(tree.Unsubscribe("a/b/c", s));
        Assert.Equal(["s:0", "t:1"], Match(tree, "a/b/c"));
        Assert.True(tree.Unsubscribe("a/b/c", t));
        Assert.True(tree.Unsubscribe("a/+/c", s));
        Assert.Equal(0, tree.Count);
        Assert.Empty(Match(tree, "a/b/c"));
    }

    [Theory]
    [InlineData("a/#", "a/b/c", true)]
    [InlineData("a/+", "a/b/c", false)]
    [InlineData("a/+/c", "a/+/c", true)]
    [InlineData("a/+/c", "a/#", false)]
    [InlineData("#", "a/#", true)]
    [InlineData("a/b", "a/+", false)]
    [InlineData("a/#", "a", true)]
    [InlineData("+/x", "$SYS/x", false)]
    public void Acl_filter_covers_a_subscription_only_when_it_matches_every_topic_of_it(string outer, string inner, bool covers) =>
        Assert.Equal(covers, TopicMatch.Covers(outer, inner));
}
