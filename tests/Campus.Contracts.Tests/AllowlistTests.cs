using System.Text;

namespace Campus.Contracts.Tests;

/// <summary>The allow-list command's windows (over midnight too) as the door reader and the controller read them.</summary>
public sealed class AllowlistTests
{
    private static PayloadResult<DeviceCommand> Read(string windows, string extra = "") =>
        PayloadReader.ReadCommand(
            Encoding.UTF8.GetBytes(DocExamples.Command($"\"version\":3,\"tzOffsetMin\":60,{extra}\"entries\":[{{\"card\":\"04A1B2C3\",\"windows\":[{windows}]}}]")),
            CommandNames.Allowlist,
            DeviceKind.Door);

    [Theory]
    [InlineData("12345", "07:00", "18:00")] // within a day
    [InlineData("1", "22:00", "06:00")]     // Monday night into Tuesday morning
    [InlineData("7", "22:00", "06:00")]     // Sunday night into Monday morning
    [InlineData("6", "12:00", "00:00")]     // to midnight (the controller's second half of a whole day)
    [InlineData("1234567", "00:00", "12:00")]
    [InlineData("3", "23:59", "00:00")]     // the shortest window over midnight
    [InlineData("3", "00:01", "00:00")]     // the longest: all but one minute of two days
    public void A_window_within_a_day_or_over_midnight_is_accepted(string days, string from, string to)
    {
        var r = Read($"{{\"days\":\"{days}\",\"from\":\"{from}\",\"to\":\"{to}\"}}");
        Assert.True(r.IsValid, r.Message);
        var window = Assert.Single(Assert.Single(Assert.IsType<AllowlistCommand>(r.Value).Entries).Windows);
        Assert.Equal(new AccessWindow { Days = days, From = from, To = to }, window);
    }

    public static TheoryData<string, string, PayloadRejection, string> BadWindows => new()
    {
        // windows, field, reason, a word of the message
        { """{"days":"1","from":"22:00","to":"22:00"}""", "entries[0].windows[0].to", PayloadRejection.OutOfRange, "empty" },
        { """{"days":"1","from":"00:00","to":"00:00"}""", "entries[0].windows[0].to", PayloadRejection.OutOfRange, "empty" },
        { """{"days":"1","from":"24:00","to":"06:00"}""", "entries[0].windows[0].from", PayloadRejection.OutOfRange, "HH:mm" },
        { """{"days":"1","from":"22:00","to":"24:00"}""", "entries[0].windows[0].to", PayloadRejection.OutOfRange, "HH:mm" },
        { """{"days":"1","from":"22:60","to":"06:00"}""", "entries[0].windows[0].from", PayloadRejection.OutOfRange, "HH:mm" },
        { """{"days":"1","from":"22:00","to":"6:00"}""", "entries[0].windows[0].to", PayloadRejection.OutOfRange, "HH:mm" },
        { """{"days":"1","from":"22:00"}""", "entries[0].windows[0].to", PayloadRejection.MissingField, "missing" },
        { """{"days":"0","from":"22:00","to":"06:00"}""", "entries[0].windows[0].days", PayloadRejection.OutOfRange, "Monday" },
        { """{"days":"8","from":"22:00","to":"06:00"}""", "entries[0].windows[0].days", PayloadRejection.OutOfRange, "Monday" },
        { """{"days":"11","from":"22:00","to":"06:00"}""", "entries[0].windows[0].days", PayloadRejection.OutOfRange, "at most once" },
        { """{"days":"","from":"22:00","to":"06:00"}""", "entries[0].windows[0].days", PayloadRejection.MissingField, "missing" },
        // the second window is the bad one: the field names it
        { """{"days":"1","from":"22:00","to":"06:00"},{"days":"2","from":"06:00","to":"06:00"}""", "entries[0].windows[1].to", PayloadRejection.OutOfRange, "empty" },
    };

    [Theory]
    [MemberData(nameof(BadWindows))]
    public void A_bad_window_is_rejected_naming_its_field(string windows, string field, PayloadRejection reason, string word)
    {
        var r = Read(windows);
        Assert.False(r.IsValid, windows);
        Assert.Equal((reason, field), (r.Rejection, r.Field));
        Assert.Contains($"'{field}'", r.Message, StringComparison.Ordinal);
        Assert.Contains(word, r.Message, StringComparison.Ordinal);
    }

    // Berlin's change to summer time: 2026-03-29 01:00 UTC, +60 -> +120 minutes. The envelope's ts is 1764144000000.
    private const long BerlinSpring = 1774746000000;
    private const long EnvelopeTs = 1764144000000;

    [Fact]
    public void The_next_offset_change_is_read_when_given_and_a_list_without_it_still_reads()
    {
        const string Window = """{"days":"1","from":"22:00","to":"06:00"}""";
        var with = Read(Window, $"\"nextOffsetAt\":{BerlinSpring},\"nextOffsetMin\":120,");
        Assert.True(with.IsValid, with.Message);
        var list = Assert.IsType<AllowlistCommand>(with.Value);
        Assert.Equal((60, (long?)BerlinSpring, (int?)120), (list.TzOffsetMin, list.NextOffsetAt, list.NextOffsetMin));

        var without = Read(Window);
        Assert.True(without.IsValid, without.Message);
        var old = Assert.IsType<AllowlistCommand>(without.Value);
        Assert.Null(old.NextOffsetAt);
        Assert.Null(old.NextOffsetMin);

        var nulls = Read(Window, "\"nextOffsetAt\":null,\"nextOffsetMin\":null,");
        Assert.True(nulls.IsValid, nulls.Message);
    }

    [Fact]
    public void The_documented_next_offset_change_reads_as_berlin_going_to_summer_time()
    {
        var r = PayloadReader.ReadCommand(Encoding.UTF8.GetBytes(DocExamples.Command($"\"version\":7,{DocExamples.AllowlistNextOffset},\"entries\":{DocExamples.AllowlistEntries}")), CommandNames.Allowlist, DeviceKind.Door);
        Assert.True(r.IsValid, r.Message);
        var list = Assert.IsType<AllowlistCommand>(r.Value);
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        var at = DateTimeOffset.FromUnixTimeMilliseconds(list.NextOffsetAt!.Value);
        Assert.Equal(new DateTimeOffset(2026, 3, 29, 1, 0, 0, TimeSpan.Zero), at);
        Assert.Equal(list.TzOffsetMin, (int)berlin.GetUtcOffset(at.AddTicks(-1)).TotalMinutes);
        Assert.Equal(list.NextOffsetMin, (int)berlin.GetUtcOffset(at).TotalMinutes);
    }

    [Fact]
    public void The_next_offset_change_is_written_only_when_known()
    {
        var list = new AllowlistCommand { Id = "c-1", Ts = EnvelopeTs, Version = 1, TzOffsetMin = 60, Entries = [] };
        var plain = Encoding.UTF8.GetString(PayloadWriter.Write(list));
        Assert.DoesNotContain("nextOffset", plain, StringComparison.Ordinal);

        var json = Encoding.UTF8.GetString(PayloadWriter.Write(list with { NextOffsetAt = BerlinSpring, NextOffsetMin = 120 }));
        Assert.Contains($"\"nextOffsetAt\":{BerlinSpring},\"nextOffsetMin\":120", json, StringComparison.Ordinal);
        var back = PayloadReader.ReadCommand(Encoding.UTF8.GetBytes(json), CommandNames.Allowlist, DeviceKind.Door);
        Assert.True(back.IsValid, back.Message);
        Assert.Equal((BerlinSpring, 120), (((AllowlistCommand)back.Value).NextOffsetAt, ((AllowlistCommand)back.Value).NextOffsetMin));
    }

    public static TheoryData<string, string, PayloadRejection, string> BadNextOffsets => new()
    {
        // members, field, reason, a word of the message
        { $"\"nextOffsetAt\":{BerlinSpring},", "nextOffsetMin", PayloadRejection.MissingField, "both" },
        { $"\"nextOffsetAt\":{BerlinSpring},\"nextOffsetMin\":null,", "nextOffsetMin", PayloadRejection.MissingField, "both" },
        { "\"nextOffsetMin\":120,", "nextOffsetAt", PayloadRejection.MissingField, "both" },
        { $"\"nextOffsetAt\":{BerlinSpring},\"nextOffsetMin\":900,", "nextOffsetMin", PayloadRejection.OutOfRange, "900" },
        { $"\"nextOffsetAt\":{BerlinSpring},\"nextOffsetMin\":-721,", "nextOffsetMin", PayloadRejection.OutOfRange, "-721" },
        { $"\"nextOffsetAt\":{EnvelopeTs},\"nextOffsetMin\":120,", "nextOffsetAt", PayloadRejection.OutOfRange, "not after" },
        { "\"nextOffsetAt\":-1,\"nextOffsetMin\":120,", "nextOffsetAt", PayloadRejection.OutOfRange, "not after" },
        { "\"nextOffsetAt\":\"2026-03-29T01:00Z\",\"nextOffsetMin\":120,", "nextOffsetAt", PayloadRejection.WrongType, "nextOffsetAt" },
        { $"\"nextOffsetAt\":{BerlinSpring},\"nextOffsetMin\":120.5,", "nextOffsetMin", PayloadRejection.WrongType, "nextOffsetMin" },
    };

    [Theory]
    [MemberData(nameof(BadNextOffsets))]
    public void A_bad_next_offset_change_is_rejected_naming_its_field(string members, string field, PayloadRejection reason, string word)
    {
        var r = Read("""{"days":"1","from":"07:00","to":"18:00"}""", members);
        Assert.False(r.IsValid, members);
        Assert.Equal((reason, field), (r.Rejection, r.Field));
        Assert.Contains($"'{field}'", r.Message, StringComparison.Ordinal);
        Assert.Contains(word, r.Message, StringComparison.Ordinal);
    }
}
