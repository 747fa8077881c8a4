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
}
