using Campus.Controller.Domain;

namespace Campus.Controller.Tests.Domain;

public sealed class AlertBookTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 26, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_repeat_of_an_active_alert_updates_it_instead_of_adding_another()
    {
        var book = new AlertBook();
        var (first, isNew) = book.Raise("s01", "r101", "door1", AlertType.DoorHeldOpen, AlertSeverity.Warning, "pre", T0);
        var (again, isNew2) = book.Raise("s01", "r101", "door1", AlertType.DoorHeldOpen, AlertSeverity.Major, "alarm", T0.AddSeconds(60));
        Assert.True(isNew);
        Assert.False(isNew2);
        Assert.Same(first, again);
        Assert.Equal(2, again.Count);
        Assert.Equal(AlertSeverity.Major, again.Severity);
        Assert.Equal(T0.AddSeconds(60), again.LastSeen);
        Assert.Single(book.Alerts);
    }

    [Fact]
    public void Different_sources_or_types_get_their_own_alerts()
    {
        var book = new AlertBook();
        book.Raise("s01", "r101", "door1", AlertType.DoorForced, AlertSeverity.Critical, "", T0);
        book.Raise("s01", "r101", "door1", AlertType.Tamper, AlertSeverity.Critical, "", T0);
        book.Raise("s01", "r102", "door2", AlertType.DoorForced, AlertSeverity.Critical, "", T0);
        Assert.Equal(3, book.ActiveCount());
        Assert.Equal(2, book.ActiveCount("r101"));
    }

    [Fact]
    public void The_lifecycle_records_who_when_and_why_at_every_step()
    {
        var book = new AlertBook();
        var (a, _) = book.Raise("s01", null, "m1", AlertType.DeviceOffline, AlertSeverity.Major, "offline", T0);
        book.Acknowledge(a.Id, "guard-zhang", "on my way", T0.AddMinutes(1));
        book.Resolve(a.Id, "guard-zhang", "cable fixed", T0.AddMinutes(5));
        book.Close(a.Id, "admin", null, T0.AddMinutes(6));
        Assert.Equal(
            [AlertStatus.Open, AlertStatus.Acknowledged, AlertStatus.Resolved, AlertStatus.Closed],
            a.History.Select(h => h.Status));
        Assert.Equal("guard-zhang", a.History[1].By);
        Assert.Equal("cable fixed", a.History[2].Note);
        Assert.Equal(T0.AddMinutes(6), a.History[3].At);
    }

    [Fact]
    public void A_repeat_after_resolution_opens_a_new_alert()
    {
        var book = new AlertBook();
        var (a, _) = book.Raise("s01", null, "m1", AlertType.DeviceOffline, AlertSeverity.Major, "", T0);
        book.ResolveCondition("m1", AlertType.DeviceOffline, "back", T0.AddMinutes(1));
        var (b, isNew) = book.Raise("s01", null, "m1", AlertType.DeviceOffline, AlertSeverity.Major, "", T0.AddMinutes(2));
        Assert.True(isNew);
        Assert.NotEqual(a.Id, b.Id);
    }

    [Fact]
    public void Invalid_transitions_are_refused_with_a_message_naming_the_states()
    {
        var book = new AlertBook();
        var (a, _) = book.Raise("s01", null, "m1", AlertType.Tamper, AlertSeverity.Critical, "", T0);
        book.Close(a.Id, "admin", "false alarm", T0);
        var e = Assert.Throws<AlertLifecycleException>(() => book.Acknowledge(a.Id, "guard", null, T0));
        Assert.Contains("Closed", e.Message, StringComparison.Ordinal);
        Assert.Throws<AlertLifecycleException>(() => book.Resolve("s01-a999", "guard", null, T0));
    }

    [Fact]
    public void Closed_alerts_beyond_the_limit_are_dropped_from_live_state()
    {
        var book = new AlertBook();
        for (var i = 0; i < AlertBook.MaxClosedKept + 10; i++)
        {
            var (a, _) = book.Raise("s01", null, $"d{i}", AlertType.Tamper, AlertSeverity.Critical, "", T0);
            book.Close(a.Id, "admin", null, T0);
        }
        Assert.Equal(AlertBook.MaxClosedKept, book.Alerts.Count);
        Assert.Equal("s01-a11", book.Alerts[0].Id);
    }
}
