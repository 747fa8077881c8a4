using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Campus.Firmware.Common;

namespace Campus.Firmware.Tests.Apps;

public sealed class CommonCodecTests
{
    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")]
    public void Sha256_matches_the_platform_hash(string text)
    {
        var data = Encoding.UTF8.GetBytes(text);
        Assert.Equal(SHA256.HashData(data), Sha256.Hash(data));
    }

    [Fact]
    public void Sha256_matches_the_platform_hash_for_every_length_around_the_block_boundaries()
    {
        var random = new Random(1234);
        for (int length = 0; length < 300; length++)
        {
            var data = new byte[length];
            random.NextBytes(data);
            Assert.True(SHA256.HashData(data).AsSpan().SequenceEqual(Sha256.Hash(data)), $"length {length}, seed 1234");
        }
    }

    [Fact]
    public void Sha256_gives_the_same_digest_when_fed_in_pieces()
    {
        var data = new byte[1000];
        new Random(7).NextBytes(data);
        var sha = new Sha256();
        int offset = 0;
        int step = 1;
        while (offset < data.Length)
        {
            int count = Math.Min(step, data.Length - offset);
            sha.Append(data, offset, count);
            offset += count;
            step = step * 3 % 97 + 1;
        }
        Assert.Equal(SHA256.HashData(data), sha.Finish());
    }

    [Fact]
    public void Hmac_sha256_matches_the_rfc_4231_vector_and_the_platform_for_short_and_long_keys()
    {
        // RFC 4231 test case 2.
        var mac = HmacSha256.Compute(Encoding.ASCII.GetBytes("Jefe"), Encoding.ASCII.GetBytes("what do ya want for nothing?"));
        Assert.Equal("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", Convert.ToHexStringLower(mac));

        var random = new Random(99);
        foreach (int keyLength in new[] { 0, 1, 32, 63, 64, 65, 200 })
        {
            var key = new byte[keyLength];
            var message = new byte[keyLength * 3 + 5];
            random.NextBytes(key);
            random.NextBytes(message);
            Assert.Equal(HMACSHA256.HashData(key, message), HmacSha256.Compute(key, message));
        }
    }

    [Fact]
    public void Hmac_instance_can_be_reused_for_the_next_message()
    {
        var key = Encoding.ASCII.GetBytes("device-key-of-32-bytes-exactly!!");
        var mac = new HmacSha256(key);
        mac.Append(Encoding.ASCII.GetBytes("first"));
        mac.Finish();
        mac.Append(Encoding.ASCII.GetBytes("second"));
        Assert.Equal(HMACSHA256.HashData(key, Encoding.ASCII.GetBytes("second")), mac.Finish());
    }

    [Fact]
    public void Signed_event_puts_sig_last_and_signs_device_newline_and_the_document_without_sig()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var signer = new EventSigner("s01-r101-door", key);
        const string unsigned = "{\"v\":1,\"boot\":3,\"seq\":57,\"ts\":1764144000000,\"type\":\"access\",\"req\":\"a9\",\"card\":\"04A1B2C3\",\"result\":\"granted\",\"reason\":\"ok\",\"source\":\"controller\"}";

        string signed = signer.Sign(unsigned);

        int at = signed.LastIndexOf(",\"sig\":\"", StringComparison.Ordinal);
        Assert.True(at > 0);
        Assert.EndsWith("\"}", signed, StringComparison.Ordinal);
        Assert.Equal(unsigned, signed[..at] + "}");
        string sig = signed[(at + 8)..^2];
        var expected = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes("s01-r101-door\n" + unsigned));
        Assert.Equal(Convert.ToBase64String(expected), sig);
        Assert.Equal("{", signed[..1]);
    }

    [Fact]
    public void Json_writer_escapes_strings_and_writes_invariant_numbers_in_any_culture()
    {
        var saved = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = new CultureInfo("de-DE");
            var w = new JsonWriter();
            w.BeginObject()
                .Member("s", "a\"b\\c\nd\u0001")
                .Member("i", -1234567890123L)
                .Member("min", long.MinValue)
                .Member("d", 1234.5670, 3)
                .Member("neg", -0.25, 2)
                .Member("round", 2.0049, 2)
                .Member("nan", double.NaN, 2)
                .Member("b", true)
                .Name("arr").BeginArray().Value(1).Value("x").Null().EndArray()
                .EndObject();
            Assert.Equal(
                "{\"s\":\"a\\\"b\\\\c\\nd\\u0001\",\"i\":-1234567890123,\"min\":-9223372036854775808,\"d\":1234.567,\"neg\":-0.25,\"round\":2,\"nan\":null,\"b\":true,\"arr\":[1,\"x\",null]}",
                w.ToString());
        }
        finally
        {
            CultureInfo.CurrentCulture = saved;
        }
    }

    [Fact]
    public void Json_reader_reads_a_command_document()
    {
        var doc = JsonNode.Parse("""
            {"v":1,"id":"c-7f3a","ts":1764144000000,"version":4,"tzOffsetMin":-480,
             "entries":[{"card":"04A1B2C3","windows":[{"days":"12345","from":"07:00","to":"18:00"}]}],
             "grant":true,"error":null,"x":-1.5e2,"esc":"\u00e9\n\"q\"","empty":{},"none":[]}
            """);
        Assert.Equal(1, doc.Get("v").AsInt(0));
        Assert.Equal("c-7f3a", doc.Get("id").AsString(""));
        Assert.Equal(1764144000000L, doc.Get("ts").AsLong(0));
        Assert.Equal(-480, doc.Get("tzOffsetMin").AsInt(0));
        var window = doc.Get("entries").At(0).Get("windows").At(0);
        Assert.Equal("12345", window.Get("days").AsString(""));
        Assert.Equal("18:00", window.Get("to").AsString(""));
        Assert.True(doc.Get("grant").AsBool(false));
        Assert.True(doc.Get("error").IsNull);
        Assert.Equal(-150.0, doc.Get("x").AsNumber(0));
        Assert.Equal("é\n\"q\"", doc.Get("esc").AsString(""));
        Assert.Equal(0, doc.Get("empty").Count);
        Assert.True(doc.Get("none").IsArray);
        Assert.True(doc.Get("absent").Get("deeper").At(3).IsMissing);
        Assert.Equal(-1, doc.Get("id").AsInt(-1));
    }

    [Theory]
    [InlineData("0.1")]
    [InlineData("123.456")]
    [InlineData("-0.000123")]
    [InlineData("1e21")]
    [InlineData("22.4")]
    [InlineData("1234.567")]
    public void Json_reader_reads_numbers_like_the_invariant_parser(string text)
    {
        Assert.Equal(double.Parse(text, CultureInfo.InvariantCulture), JsonNode.Parse(text).AsNumber(double.NaN), 12);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("{\"a\":}")]
    [InlineData("{\"a\":1,}")]
    [InlineData("[1 2]")]
    [InlineData("\"unterminated")]
    [InlineData("01")]
    [InlineData("1.")]
    [InlineData("tru")]
    [InlineData("{\"a\":1} x")]
    [InlineData("\"bad \\x escape\"")]
    [InlineData("\"raw\ncontrol\"")]
    public void Json_reader_rejects_malformed_documents_with_a_position(string text)
    {
        var error = Assert.Throws<JsonFormatException>(() => JsonNode.Parse(text));
        Assert.Contains("at character", error.Message, StringComparison.Ordinal);
        Assert.False(JsonReader.TryParse(text, out var node));
        Assert.True(node.IsMissing);
    }

    [Fact]
    public void Json_reader_refuses_nesting_deeper_than_its_limit()
    {
        string deep = new string('[', JsonReader.MaxDepth + 1) + new string(']', JsonReader.MaxDepth + 1);
        Assert.Throws<JsonFormatException>(() => JsonNode.Parse(deep));
        string ok = new string('[', JsonReader.MaxDepth) + new string(']', JsonReader.MaxDepth);
        Assert.True(JsonNode.Parse(ok).IsArray);
    }

    [Fact]
    public void Json_round_trips_through_reader_and_writer_for_random_documents()
    {
        int seed = Environment.TickCount;
        var random = new Random(seed);
        for (int i = 0; i < 200; i++)
        {
            var w = new JsonWriter();
            w.BeginObject();
            for (int m = 0; m < random.Next(1, 8); m++)
            {
                string name = "k" + m;
                switch (random.Next(4))
                {
                    case 0: w.Member(name, random.Next(-100000, 100000)); break;
                    case 1: w.Member(name, Math.Round(random.NextDouble() * 1000, 3), 3); break;
                    case 2: w.Member(name, new string((char)random.Next(1, 0x2FF), random.Next(0, 4)) + "\"\\"); break;
                    default: w.Member(name, random.Next(2) == 0); break;
                }
            }
            w.EndObject();
            string text = w.ToString();
            using var expected = System.Text.Json.JsonDocument.Parse(text);
            var node = JsonNode.Parse(text);
            Assert.True(expected.RootElement.EnumerateObject().Count() == node.Count, $"seed {seed}: {text}");
            Assert.Equal(text, node.ToString());
        }
    }

    [Fact]
    public void Topics_follow_the_scheme_and_recognise_only_this_devices_commands()
    {
        var t = new DeviceTopics("s01", "r101", "door", "s01-r101-door");
        Assert.Equal("campus/v1/s01/r101/door/s01-r101-door/event", t.Event);
        Assert.Equal("campus/v1/s01/r101/door/s01-r101-door/status", t.Status);
        Assert.Equal("campus/v1/s01/r101/door/s01-r101-door/telemetry", t.Telemetry);
        Assert.Equal("campus/v1/s01/r101/door/s01-r101-door/cmd/+", t.CommandFilter);
        Assert.Equal("campus/v1/s01/r101/door/s01-r101-door/cmd/access/ack", t.Ack("access"));
        Assert.Equal("unlock", t.CommandName("campus/v1/s01/r101/door/s01-r101-door/cmd/unlock"));
        Assert.Equal("", t.CommandName("campus/v1/s01/r101/door/other-door/cmd/unlock"));
        Assert.Equal("", t.CommandName("campus/v1/s01/r101/door/s01-r101-door/cmd/unlock/ack"));
        Assert.Throws<ArgumentException>(() => new DeviceTopics("S01", "r101", "door", "d"));
        Assert.Throws<ArgumentException>(() => new DeviceTopics("s01", "r101", "toaster", "d"));
        Assert.Throws<ArgumentException>(() => new DeviceTopics("s01", "r101", "door", "-d"));
    }

    [Fact]
    public void Civil_time_matches_the_platform_calendar()
    {
        var random = new Random(42);
        for (int i = 0; i < 2000; i++)
        {
            long ms = (long)(random.NextDouble() * 4_000_000_000_000L);
            int offset = random.Next(-720, 841);
            var local = DateTimeOffset.FromUnixTimeMilliseconds(ms).ToOffset(TimeSpan.FromMinutes(offset));
            long days = CivilTime.LocalDays(ms, offset);
            Assert.Equal(local.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), CivilTime.FormatDate(days));
            Assert.Equal(local.Hour * 60 + local.Minute, CivilTime.LocalMinuteOfDay(ms, offset));
            int iso = local.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)local.DayOfWeek;
            Assert.Equal(iso, CivilTime.IsoWeekday(days));
            Assert.Equal(days, CivilTime.ParseDate(CivilTime.FormatDate(days)));
        }
        Assert.Equal(7 * 60 + 5, CivilTime.ParseMinutes("07:05"));
        Assert.Equal(-1, CivilTime.ParseMinutes("7:05"));
        Assert.Equal(-1, CivilTime.ParseMinutes("07:60"));
        Assert.Equal(long.MinValue, CivilTime.ParseDate("2026-13-01"));
    }

    [Fact]
    public void Outbox_drops_the_oldest_when_full_and_counts_it()
    {
        var outbox = new Outbox(3);
        for (int i = 1; i <= 5; i++) outbox.Enqueue(Message(i));
        Assert.Equal(2, outbox.Dropped);
        Assert.Equal(3, outbox.Count);
        var order = new List<string>();
        ushort id = 1;
        while (outbox.TryTakeNext(8, out var m))
        {
            order.Add(Encoding.ASCII.GetString(m.Payload));
            outbox.MarkSent(m, id++);
        }
        Assert.Equal(new[] { "3", "4", "5" }, order);
    }

    [Fact]
    public void Outbox_keeps_unacknowledged_messages_for_the_next_connection_in_order()
    {
        var outbox = new Outbox(10);
        for (int i = 1; i <= 4; i++) outbox.Enqueue(Message(i));
        Assert.True(outbox.TryTakeNext(2, out var a));
        outbox.MarkSent(a, 11);
        Assert.True(outbox.TryTakeNext(2, out var b));
        outbox.MarkSent(b, 12);
        Assert.False(outbox.TryTakeNext(2, out _)); // window of two is full
        Assert.True(outbox.Acknowledge(12)); // out of order: 1 still holds the head
        Assert.Equal(4, outbox.Count);
        Assert.True(outbox.Acknowledge(11));
        Assert.Equal(2, outbox.Count);
        Assert.True(outbox.TryTakeNext(2, out var c));
        outbox.MarkSent(c, 13);
        outbox.ResendUnacknowledged();
        Assert.True(outbox.TryTakeNext(2, out var again));
        Assert.Equal("3", Encoding.ASCII.GetString(again.Payload));
        Assert.False(outbox.Acknowledge(13));
    }

    private static OutgoingMessage Message(int i) => new("t", Encoding.ASCII.GetBytes(i.ToString(CultureInfo.InvariantCulture)), false);
}
