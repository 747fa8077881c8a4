using System.Text;

namespace Campus.Mqtt.Tests.Codec;

public sealed class TopicTests
{
    [Theory]
    [InlineData("sport/tennis/player1", "sport/tennis/player1/#", true)]
    [InlineData("sport/tennis/player1/ranking", "sport/tennis/player1/#", true)]
    [InlineData("sport/tennis/player1/score/wimbledon", "sport/tennis/player1/#", true)]
    [InlineData("sport", "sport/#", true)]
    [InlineData("sport/tennis", "#", true)]
    [InlineData("/", "#", true)]
    [InlineData("sport/tennis/player1", "sport/tennis/+", true)]
    [InlineData("sport/tennis/player1/ranking", "sport/tennis/+", false)]
    [InlineData("sport/tennis", "sport/tennis/+", false)]
    [InlineData("sport/tennis/", "sport/tennis/+", true)]
    [InlineData("sport", "sport/+", false)]
    [InlineData("sport/", "sport/+", true)]
    [InlineData("/finance", "+/+", true)]
    [InlineData("/finance", "/+", true)]
    [InlineData("/finance", "+", false)]
    [InlineData("finance", "+", true)]
    [InlineData("a/b/c", "a/+/c", true)]
    [InlineData("a/b/d", "a/+/c", false)]
    [InlineData("a/b", "a/b", true)]
    [InlineData("a/b", "a/B", false)]
    [InlineData("a/b", "a/b/c", false)]
    [InlineData("a/b/c", "a/b", false)]
    [InlineData("campus/v1/s01/r101/energy/m1/telemetry", "campus/v1/+/+/energy/#", true)]
    [InlineData("campus/v1/s01/r101/door/d1/event", "campus/v1/+/+/energy/#", false)]
    [InlineData("$SYS/broker/uptime", "#", false)]
    [InlineData("$SYS/broker/uptime", "+/broker/uptime", false)]
    [InlineData("$SYS/broker/uptime", "$SYS/#", true)]
    [InlineData("$SYS/broker/uptime", "$SYS/+/uptime", true)]
    [InlineData("a/$b", "a/+", true)]
    [InlineData("ü/ö", "+/ö", true)]
    public void Topic_names_match_filters_as_the_spec_says(string topic, string filter, bool expected)
    {
        Assert.Equal(expected, MqttTopic.Matches(topic, filter));
        Assert.Equal(expected, MqttTopic.Matches(Encoding.UTF8.GetBytes(topic), Encoding.UTF8.GetBytes(filter)));
    }

    [Theory]
    [InlineData("a", true)]
    [InlineData("/", true)]
    [InlineData("a//b", true)]
    [InlineData("$SYS/x", true)]
    [InlineData("", false)]
    [InlineData("a/+", false)]
    [InlineData("a/#", false)]
    [InlineData("a\0b", false)]
    public void Topic_names_are_validated(string topic, bool valid)
    {
        Assert.Equal(valid, MqttTopic.IsValidTopicName(topic));
        Assert.Equal(valid, MqttTopic.IsValidTopicName(Encoding.UTF8.GetBytes(topic)));
    }

    [Fact]
    public void A_topic_with_an_unpaired_surrogate_is_invalid()
    {
        var topic = "a/" + (char)0xD800;
        Assert.False(MqttTopic.IsValidTopicName(topic));
        Assert.False(MqttTopic.IsValidTopicFilter(topic));
        Assert.True(MqttTopic.IsValidTopicName("a/\U0001F600"));
    }

    [Theory]
    [InlineData("#", true)]
    [InlineData("+", true)]
    [InlineData("+/+/#", true)]
    [InlineData("a/+/b/#", true)]
    [InlineData("/#", true)]
    [InlineData("", false)]
    [InlineData("a/#/b", false)]
    [InlineData("a#", false)]
    [InlineData("a/#b", false)]
    [InlineData("a+/b", false)]
    [InlineData("a/++", false)]
    [InlineData("##", false)]
    [InlineData("a\0", false)]
    public void Topic_filters_are_validated(string filter, bool valid)
    {
        Assert.Equal(valid, MqttTopic.IsValidTopicFilter(filter));
        Assert.Equal(valid, MqttTopic.IsValidTopicFilter(Encoding.UTF8.GetBytes(filter)));
    }

    [Fact]
    public void A_topic_longer_than_65535_utf8_bytes_is_invalid()
    {
        Assert.True(MqttTopic.IsValidTopicName(new string('a', 65_535)));
        Assert.False(MqttTopic.IsValidTopicName(new string('a', 65_536)));
        Assert.False(MqttTopic.IsValidTopicName(new string('é', 40_000)));
        var e = Assert.Throws<ArgumentException>(() => MqttTopic.ThrowIfInvalidTopicFilter("a/#/b", "filter"));
        Assert.Contains("'#' must be the last level", e.Message, StringComparison.Ordinal);
    }
}
