using System.Text;

namespace Campus.Contracts.Tests;

public sealed class TopicTests
{
    [Theory]
    [InlineData("campus/v1/s01/r101/energy/m1/telemetry", TopicStream.Telemetry, DeviceKind.Energy, null)]
    [InlineData("campus/v1/s01/r101/env/e-7/status", TopicStream.Status, DeviceKind.Env, null)]
    [InlineData("campus/v1/s01/r101/door/s01-r101-door/event", TopicStream.Event, DeviceKind.Door, null)]
    [InlineData("campus/v1/s02/lab1/maker/s02-lab1-kit07/cmd/config", TopicStream.Command, DeviceKind.Maker, "config")]
    [InlineData("campus/v1/s02/8b/sign/sign-8b/cmd/timetable/ack", TopicStream.CommandAck, DeviceKind.Sign, "timetable")]
    public void Documented_topics_parse_into_their_segments_and_format_back_unchanged(string text, TopicStream stream, DeviceKind kind, string? command)
    {
        Assert.True(DeviceTopic.TryParse(text, out var topic, out var error), error.ToString());
        Assert.Equal(TopicError.None, error);
        Assert.Equal(stream, topic.Stream);
        Assert.Equal(kind, topic.Kind);
        Assert.Equal(command, topic.CommandName);
        Assert.Equal(text.Split('/')[2], topic.School);
        Assert.Equal(text.Split('/')[5], topic.Device);
        Assert.Equal(text, topic.ToString());
        Assert.Equal(text.Length, topic.Length);

        Assert.True(DeviceTopic.TryParse(Encoding.UTF8.GetBytes(text), out var fromBytes, out _));
        Assert.Equal(topic, fromBytes);
        var utf8 = new byte[topic.Length];
        Assert.True(topic.TryFormatUtf8(utf8, out var written));
        Assert.Equal(text, Encoding.ASCII.GetString(utf8, 0, written));
    }

    [Fact]
    public void Builders_produce_every_stream_of_one_device()
    {
        var t = DeviceTopic.Telemetry("s01", "r101", DeviceKind.Door, "s01-r101-door");
        Assert.Equal("campus/v1/s01/r101/door/s01-r101-door/telemetry", t.ToString());
        Assert.Equal("campus/v1/s01/r101/door/s01-r101-door/status", DeviceTopic.Status("s01", "r101", DeviceKind.Door, "s01-r101-door").ToString());
        Assert.Equal("campus/v1/s01/r101/door/s01-r101-door/event", DeviceTopic.Event("s01", "r101", DeviceKind.Door, "s01-r101-door").ToString());
        Assert.Equal("campus/v1/s01/r101/door/s01-r101-door/cmd/access", DeviceTopic.Command("s01", "r101", DeviceKind.Door, "s01-r101-door", "access").ToString());
        Assert.Equal("campus/v1/s01/r101/door/s01-r101-door/cmd/access/ack", DeviceTopic.CommandAck("s01", "r101", DeviceKind.Door, "s01-r101-door", "access").ToString());
        Assert.Equal("campus/v1/s01/r101/door/s01-r101-door/cmd/unlock", t.WithStream(TopicStream.Command, "unlock").ToString());
        Assert.Equal("campus/v1/s01/r101/door/s01-r101-door/cmd/+", t.CommandFilter);
        Assert.Equal("campus/v1/#", TopicFilters.All);
        Assert.Equal("", default(DeviceTopic).ToString());
    }

    public static TheoryData<string, TopicError> InvalidTopics => new()
    {
        { "", TopicError.Empty },
        { "campus/v1/" + new string('a', 300), TopicError.TooLong },
        { "campos/v1/s01/r101/energy/m1/telemetry", TopicError.NotCampus },
        { "/campus/v1/s01/r101/energy/m1/telemetry", TopicError.NotCampus },
        { "campus/v2/s01/r101/energy/m1/telemetry", TopicError.UnknownVersion },
        { "campus", TopicError.TooFewSegments },
        { "campus/v1/s01/r101/energy/m1", TopicError.TooFewSegments },
        { "campus/v1/s01/r101/energy/m1/cmd", TopicError.TooFewSegments },
        { "campus/v1/s01/r101/energy/m1/telemetry/x", TopicError.TooManySegments },
        { "campus/v1/s01/r101/energy/m1/cmd/config/ack/x", TopicError.TooManySegments },
        { "campus/v1/s01/r101/energy/m1/telemetry/", TopicError.TooManySegments },
        { "campus/v1//r101/energy/m1/telemetry", TopicError.InvalidSchool },
        { "campus/v1/S01/r101/energy/m1/telemetry", TopicError.InvalidSchool },
        { "campus/v1/-s01/r101/energy/m1/telemetry", TopicError.InvalidSchool },
        { "campus/v1/+/r101/energy/m1/telemetry", TopicError.InvalidSchool },
        { "campus/v1/" + new string('s', 33) + "/r101/energy/m1/telemetry", TopicError.InvalidSchool },
        { "campus/v1/s01/r 101/energy/m1/telemetry", TopicError.InvalidRoom },
        { "campus/v1/s01/r101/power/m1/telemetry", TopicError.UnknownKind },
        { "campus/v1/s01/r101/Energy/m1/telemetry", TopicError.UnknownKind },
        { "campus/v1/s01/r101/energy/m_1/telemetry", TopicError.InvalidDevice },
        { "campus/v1/s01/r101/energy/#/telemetry", TopicError.InvalidDevice },
        { "campus/v1/s01/r101/energy/m1/telemetri", TopicError.UnknownStream },
        { "campus/v1/s01/r101/energy/m1/cmd/config/nak", TopicError.UnknownStream },
        { "campus/v1/s01/r101/energy/m1/cmd/Config", TopicError.InvalidCommandName },
        { "campus/v1/s01/r101/energy/m1/cmd/+", TopicError.InvalidCommandName },
        { "campus/v1/s01/r101/energy/m1/cmd//ack", TopicError.InvalidCommandName },
    };

    [Theory]
    [MemberData(nameof(InvalidTopics))]
    public void Parser_rejects_each_invalid_topic_with_the_reason_of_the_faulty_segment(string text, TopicError expected)
    {
        Assert.False(DeviceTopic.TryParse(text, out var topic, out var error));
        Assert.Equal(expected, error);
        Assert.Equal(default, topic);
        Assert.False(DeviceTopic.TryParse(Encoding.UTF8.GetBytes(text), out _, out var byteError));
        Assert.Equal(expected, byteError);
        var e = Assert.Throws<FormatException>(() => DeviceTopic.Parse(text));
        Assert.Contains(DeviceTopic.Describe(expected), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Non_ascii_bytes_are_reported_against_the_segment_holding_them()
    {
        Assert.False(DeviceTopic.TryParse("campus/v1/s01/r\u00e9/energy/m1/telemetry"u8, out _, out var error));
        Assert.Equal(TopicError.InvalidRoom, error);
        Assert.False(DeviceTopic.TryParse([.. "campus/v1/s01/r101/energy/"u8, 0xFF, 0xFE, .. "/telemetry"u8], out _, out error));
        Assert.Equal(TopicError.InvalidDevice, error);
    }

    [Theory]
    [InlineData("", "school", "empty")]
    [InlineData("S01", "school", "'S'")]
    [InlineData("-s01", "school", "starts with '-'")]
    [InlineData("s01/x", "school", "'/'")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "school", "33 characters")]
    public void Builder_names_the_segment_and_the_fault_of_an_invalid_school(string school, string segment, string why)
    {
        var e = Assert.Throws<ArgumentException>(() => DeviceTopic.Telemetry(school, "r101", DeviceKind.Energy, "m1"));
        Assert.Contains($"{segment} segment", e.Message, StringComparison.Ordinal);
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
        Assert.Equal("school", e.ParamName);
    }

    [Fact]
    public void Builder_names_the_room_device_kind_and_command_segments()
    {
        Assert.Equal("room", Assert.Throws<ArgumentException>(() => DeviceTopic.Status("s01", "R1", DeviceKind.Env, "e1")).ParamName);
        Assert.Equal("device", Assert.Throws<ArgumentException>(() => DeviceTopic.Status("s01", "r1", DeviceKind.Env, "e.1")).ParamName);
        Assert.Equal("kind", Assert.Throws<ArgumentException>(() => DeviceTopic.Status("s01", "r1", DeviceKind.Unknown, "e1")).ParamName);
        Assert.Equal("kind", Assert.Throws<ArgumentException>(() => DeviceTopic.Status("s01", "r1", (DeviceKind)42, "e1")).ParamName);
        var e = Assert.Throws<ArgumentException>(() => DeviceTopic.Command("s01", "r1", DeviceKind.Env, "e1", "set config"));
        Assert.Equal("commandName", e.ParamName);
        Assert.Contains("command name segment", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => DeviceTopic.Telemetry("s01", "r1", DeviceKind.Env, "e1").WithStream(TopicStream.Command));
    }

    [Fact]
    public void Device_kinds_map_to_and_from_their_wire_names()
    {
        foreach (var kind in Enum.GetValues<DeviceKind>())
        {
            if (kind == DeviceKind.Unknown)
            {
                Assert.Throws<ArgumentOutOfRangeException>(() => kind.ToWire());
                continue;
            }
            var name = kind.ToWire();
            Assert.Equal(name.ToLowerInvariant(), name);
            Assert.True(WireNames.TryParse<DeviceKind>(name, out var back));
            Assert.Equal(kind, back);
            Assert.True(WireNames.TryParse<DeviceKind>(Encoding.UTF8.GetBytes(name), out back));
            Assert.Equal(kind, back);
        }
        Assert.False(WireNames.TryParse<DeviceKind>("Door", out _));
        Assert.Equal(["energy", "env", "door", "sign", "maker"], Enum.GetValues<DeviceKind>()[1..].Select(k => k.ToWire()));
    }

    [Fact]
    public void Seeded_random_topics_round_trip_and_random_corruptions_never_throw()
    {
        var seed = Environment.TickCount;
        var random = new Random(seed);
        const string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-";
        string Id() => alphabet[random.Next(36)] + new string(Enumerable.Range(0, random.Next(0, 32)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
        var kinds = Enum.GetValues<DeviceKind>()[1..];
        for (var i = 0; i < 2000; i++)
        {
            var stream = (TopicStream)random.Next(5);
            var name = stream is TopicStream.Command or TopicStream.CommandAck ? Id() : null;
            var topic = DeviceTopic.Telemetry(Id(), Id(), kinds[random.Next(kinds.Length)], Id()).WithStream(stream, name);
            var text = topic.ToString();
            Assert.True(DeviceTopic.TryParse(text, out var back, out var error), $"seed {seed}: '{text}' did not parse: {error}");
            Assert.True(topic == back, $"seed {seed}: '{text}' parsed as '{back}'");

            // One random character replaced: never throws; when it fails, it says why.
            var chars = text.ToCharArray();
            chars[random.Next(chars.Length)] = (char)random.Next(0x20, 0x250);
            var corrupt = new string(chars);
            var ok = DeviceTopic.TryParse(corrupt, out var parsed, out error);
            Assert.True(ok == (error == TopicError.None), $"seed {seed}: '{corrupt}' -> {ok}/{error}");
            if (ok)
            {
                Assert.True(corrupt == parsed.ToString(), $"seed {seed}: '{corrupt}' parsed as '{parsed}'");
            }
        }
    }

    [Fact]
    public void Every_prefix_of_a_topic_is_rejected_without_throwing()
    {
        const string text = "campus/v1/s01/r101/door/s01-r101-door/cmd/access/ack";
        for (var n = 0; n < text.Length; n++)
        {
            var prefix = text[..n];
            var ok = DeviceTopic.TryParse(prefix, out _, out var error);
            // A prefix that ends inside the command name is itself a valid command topic (".../cmd/acc").
            const string commandBase = "campus/v1/s01/r101/door/s01-r101-door/cmd/";
            var expectedValid = n > commandBase.Length && n <= commandBase.Length + "access".Length;
            Assert.True(ok == expectedValid, $"prefix '{prefix}': {ok}/{error}");
            Assert.True(ok || error != TopicError.None);
        }
    }
}
