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

    // Berlin's next three changes after the envelope's ts: summer 2026, winter 2026, summer 2027.
    private const long BerlinAutumn = 1792890000000; // 2026-10-25 01:00 UTC, +120 -> +60
    private const long BerlinSpring2027 = 1806195600000; // 2027-03-28 01:00 UTC, +60 -> +120

    private static string Changes(params (long At, int Min)[] changes) =>
        "\"offsetChanges\":[" + string.Join(",", changes.Select(c => $"{{\"at\":{c.At},\"min\":{c.Min}}}")) + "],";

    [Fact]
    public void The_offset_changes_are_read_in_order_with_the_next_change_as_their_first_entry()
    {
        var r = Read(Window, $"\"nextOffsetAt\":{BerlinSpring},\"nextOffsetMin\":120," + Changes((BerlinSpring, 120), (BerlinAutumn, 60), (BerlinSpring2027, 120)));
        Assert.True(r.IsValid, r.Message);
        var list = Assert.IsType<AllowlistCommand>(r.Value);
        Assert.Equal(
            [new OffsetChange { At = BerlinSpring, Min = 120 }, new OffsetChange { At = BerlinAutumn, Min = 60 }, new OffsetChange { At = BerlinSpring2027, Min = 120 }],
            list.OffsetChanges!);

        // Alone, empty, or null: all read (a zone without daylight saving time, an older controller).
        Assert.True(Read(Window, Changes((BerlinSpring, 120))).IsValid);
        var empty = Read(Window, "\"offsetChanges\":[],");
        Assert.True(empty.IsValid, empty.Message);
        Assert.Empty(((AllowlistCommand)empty.Value).OffsetChanges!);
        var nulls = Read(Window, "\"offsetChanges\":null,");
        Assert.True(nulls.IsValid, nulls.Message);
        Assert.Null(((AllowlistCommand)nulls.Value).OffsetChanges);

        // The Berlin instants above are what the zone says.
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        foreach (var c in list.OffsetChanges!)
        {
            var at = DateTimeOffset.FromUnixTimeMilliseconds(c.At!.Value);
            Assert.Equal(c.Min, (int)berlin.GetUtcOffset(at).TotalMinutes);
            Assert.NotEqual(c.Min, (int)berlin.GetUtcOffset(at.AddTicks(-1)).TotalMinutes);
        }
    }

    [Fact]
    public void The_documented_offset_changes_read_as_berlins_next_changes()
    {
        var r = PayloadReader.ReadCommand(Encoding.UTF8.GetBytes(DocExamples.Command($"\"version\":7,{DocExamples.AllowlistNextOffset},{DocExamples.AllowlistOffsetChanges},\"entries\":{DocExamples.AllowlistEntries}")), CommandNames.Allowlist, DeviceKind.Door);
        Assert.True(r.IsValid, r.Message);
        var list = Assert.IsType<AllowlistCommand>(r.Value);
        Assert.Equal((list.NextOffsetAt, list.NextOffsetMin), (list.OffsetChanges![0].At, list.OffsetChanges[0].Min));
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        var offset = list.TzOffsetMin;
        foreach (var c in list.OffsetChanges)
        {
            var at = DateTimeOffset.FromUnixTimeMilliseconds(c.At!.Value);
            Assert.Equal(offset, (int)berlin.GetUtcOffset(at.AddTicks(-1)).TotalMinutes);
            Assert.Equal(c.Min, (int)berlin.GetUtcOffset(at).TotalMinutes);
            offset = c.Min!.Value;
        }
    }

    [Fact]
    public void The_offset_changes_are_written_only_when_known()
    {
        var list = new AllowlistCommand { Id = "c-1", Ts = EnvelopeTs, Version = 1, TzOffsetMin = 60, Entries = [] };
        Assert.DoesNotContain("offsetChanges", Encoding.UTF8.GetString(PayloadWriter.Write(list)), StringComparison.Ordinal);

        var json = Encoding.UTF8.GetString(PayloadWriter.Write(list with { OffsetChanges = [new OffsetChange { At = BerlinSpring, Min = 120 }, new OffsetChange { At = BerlinAutumn, Min = 60 }] }));
        Assert.Contains($"\"offsetChanges\":[{{\"at\":{BerlinSpring},\"min\":120}},{{\"at\":{BerlinAutumn},\"min\":60}}]", json, StringComparison.Ordinal);
        var back = PayloadReader.ReadCommand(Encoding.UTF8.GetBytes(json), CommandNames.Allowlist, DeviceKind.Door);
        Assert.True(back.IsValid, back.Message);
        Assert.Equal([BerlinSpring, BerlinAutumn], ((AllowlistCommand)back.Value).OffsetChanges!.Select(c => c.At!.Value));
    }

    private const string Window = """{"days":"1","from":"07:00","to":"18:00"}""";

    public static TheoryData<string, string, PayloadRejection, string> BadOffsetChanges => new()
    {
        // members, field, reason, a word of the message
        { Changes((BerlinAutumn, 60), (BerlinSpring, 120)), "offsetChanges[1].at", PayloadRejection.OutOfRange, "increasing" },
        { Changes((BerlinSpring, 120), (BerlinSpring, 60)), "offsetChanges[1].at", PayloadRejection.OutOfRange, "increasing" },
        { Changes((EnvelopeTs, 120)), "offsetChanges[0].at", PayloadRejection.OutOfRange, "not after the command's 'ts'" },
        { Changes((EnvelopeTs - 1, 120), (BerlinSpring, 120)), "offsetChanges[0].at", PayloadRejection.OutOfRange, "not after the command's 'ts'" },
        { Changes((BerlinSpring, 120), (BerlinAutumn, 900)), "offsetChanges[1].min", PayloadRejection.OutOfRange, "900" },
        { Changes((BerlinSpring, -721)), "offsetChanges[0].min", PayloadRejection.OutOfRange, "-721" },
        { Changes([.. Enumerable.Range(1, 9).Select(i => (BerlinSpring + (i * 3_600_000L), 60))]), "offsetChanges", PayloadRejection.OutOfRange, "at most 8" },
        { $"\"offsetChanges\":[{{\"at\":{BerlinSpring}}}],", "offsetChanges[0].min", PayloadRejection.MissingField, "missing" },
        { "\"offsetChanges\":[{\"min\":120}],", "offsetChanges[0].at", PayloadRejection.MissingField, "missing" },
        { $"\"offsetChanges\":[{{\"at\":{BerlinSpring},\"min\":120}},null],", "offsetChanges[1]", PayloadRejection.MissingField, "missing" },
        { "\"offsetChanges\":[{\"at\":\"2026-03-29T01:00Z\",\"min\":120}],", "offsetChanges[0].at", PayloadRejection.WrongType, "wrong JSON type" },
        { "\"offsetChanges\":{\"at\":1774746000000,\"min\":120},", "offsetChanges", PayloadRejection.WrongType, "an array" },
        // Given with the next offset change, the first entry is that change.
        { $"\"nextOffsetAt\":{BerlinSpring},\"nextOffsetMin\":120," + Changes((BerlinAutumn, 60)), "nextOffsetAt", PayloadRejection.OutOfRange, "first entry" },
        { $"\"nextOffsetAt\":{BerlinSpring},\"nextOffsetMin\":120,\"offsetChanges\":[],", "nextOffsetAt", PayloadRejection.OutOfRange, "first entry" },
        { $"\"nextOffsetAt\":{BerlinSpring},\"nextOffsetMin\":120," + Changes((BerlinSpring, 60)), "nextOffsetMin", PayloadRejection.OutOfRange, "first entry" },
    };

    [Theory]
    [MemberData(nameof(BadOffsetChanges))]
    public void Bad_offset_changes_are_rejected_naming_the_member(string members, string field, PayloadRejection reason, string word)
    {
        var r = Read(Window, members);
        Assert.False(r.IsValid, members);
        Assert.Equal((reason, field), (r.Rejection, r.Field));
        Assert.Contains($"'{field}'", r.Message, StringComparison.Ordinal);
        Assert.Contains(word, r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Eight_offset_changes_are_accepted()
    {
        var r = Read(Window, Changes([.. Enumerable.Range(1, 8).Select(i => (BerlinSpring + (i * 3_600_000L), i % 2 == 0 ? 60 : 120))]));
        Assert.True(r.IsValid, r.Message);
        Assert.Equal(8, ((AllowlistCommand)r.Value).OffsetChanges!.Count);
    }
}
