using System.Globalization;
using Campus.Controller.History;
using Microsoft.Extensions.Time.Testing;

namespace Campus.Controller.Tests.History;

/// <summary>
/// The contract every history store keeps. Each derived class runs it against one storage: in memory,
/// a SQLite file, a real PostgreSQL database. Every test works on its own fresh database.
/// </summary>
public abstract class HistoryStoreContract : IAsyncLifetime
{
    private readonly List<IHistoryStore> _opened = [];

    protected static readonly DateTimeOffset Epoch = new(2026, 11, 25, 0, 0, 0, TimeSpan.Zero); // a Wednesday

    protected FakeTimeProvider Time { get; } = new(Epoch);

    /// <summary>A new empty database; returns the name to open it with.</summary>
    protected abstract Task<string> CreateDatabaseAsync();

    /// <summary>A store on <paramref name="database"/> (not yet initialized).</summary>
    private protected abstract IHistoryStore Open(string database, HistoryOptions options, TimeProvider time);

    /// <summary>Makes the storage of <paramref name="database"/> refuse writes until <see cref="RestoreStorageAsync"/>.</summary>
    private protected abstract Task BreakStorageAsync(string database, IHistoryStore store);

    private protected abstract Task RestoreStorageAsync(string database, IHistoryStore store);

    private protected virtual HistoryOptions NewOptions(string database) => new() { ConnectionString = database };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _opened)
        {
            await store.DisposeAsync();
        }
    }

    private protected async Task<(IHistoryStore Store, string Database)> NewStoreAsync(Action<HistoryOptions>? configure = null)
    {
        var database = await CreateDatabaseAsync();
        return (await OpenStoreAsync(database, configure), database);
    }

    private protected async Task<IHistoryStore> OpenStoreAsync(string database, Action<HistoryOptions>? configure = null)
    {
        var options = NewOptions(database);
        configure?.Invoke(options);
        var store = Open(database, options, Time);
        _opened.Add(store);
        await store.InitializeAsync();
        return store;
    }

    private protected static TelemetryRecord Meter(string school, string room, string device, uint seq, DateTimeOffset at, double? kwh, double? powerW = null, uint boot = 1) => new()
    {
        SchoolId = school,
        RoomId = room,
        DeviceId = device,
        Kind = "energy",
        Boot = boot,
        Seq = seq,
        DeviceTime = at,
        ReceivedAt = at.AddSeconds(1),
        EnergyKwh = kwh,
        PowerW = powerW,
    };

    private protected static DateTimeOffset Local(string zone, int y, int mo, int d, int h, int mi = 0)
    {
        var tz = TimeZoneInfo.FindSystemTimeZoneById(zone);
        var local = new DateTime(y, mo, d, h, mi, 0, DateTimeKind.Unspecified);
        return new DateTimeOffset(local, tz.GetUtcOffset(local));
    }

    private protected static SchoolProfile AllDayOpen(string school, string zone) =>
        new(school, zone, [.. Enum.GetValues<DayOfWeek>().Select(d => new OpeningWindow(d, TimeOnly.MinValue, TimeOnly.MinValue))]);

    private static async Task<List<T>> AllPagesAsync<T>(Func<PageRequest, Task<Page<T>>> query, int limit)
    {
        var all = new List<T>();
        string? after = null;
        do
        {
            var page = await query(new PageRequest(limit, after));
            Assert.True(page.Items.Count <= limit, $"page of {page.Items.Count} exceeds limit {limit}");
            all.AddRange(page.Items);
            after = page.NextCursor;
        }
        while (after is not null);
        return all;
    }

    // ---- appends ----------------------------------------------------------------------------

    [Fact]
    public async Task Append_of_the_same_device_boot_and_seq_is_a_duplicate_and_changes_nothing()
    {
        var (store, _) = await NewStoreAsync();
        await store.UpsertSchoolAsync(AllDayOpen("s01", "UTC"));
        var t0 = Epoch.AddHours(10);
        Assert.Equal(AppendResult.Inserted, await store.AppendAsync(Meter("s01", "r101", "m1", 1, t0, 100)));
        Assert.Equal(AppendResult.Inserted, await store.AppendAsync(Meter("s01", "r101", "m1", 2, t0.AddMinutes(10), 101)));
        // A redelivered copy, even with other values, is a duplicate and counts no energy.
        Assert.Equal(AppendResult.Duplicate, await store.AppendAsync(Meter("s01", "r101", "m1", 2, t0.AddMinutes(10), 150)));
        Assert.Equal(AppendResult.Duplicate, await store.AppendAsync(Meter("s01", "r101", "m1", 1, t0, 100)));
        // Same seq in another boot, or of another device, is a new message.
        Assert.Equal(AppendResult.Inserted, await store.AppendAsync(Meter("s01", "r101", "m1", 1, t0.AddMinutes(20), 102, boot: 2)));
        Assert.Equal(AppendResult.Inserted, await store.AppendAsync(Meter("s01", "r101", "m2", 1, t0.AddMinutes(20), 5)));

        var rows = (await store.GetTelemetryAsync(new TelemetryQuery("s01", "m1", Epoch, Epoch.AddDays(1)))).Items;
        Assert.Equal(3, rows.Count);
        Assert.Equal(101, rows.Single(r => r.Record.Seq == 2 && r.Record.Boot == 1).Record.EnergyKwh);
        var day = await store.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.School("s01"), EnergyGranularity.Day, new(2026, 11, 25), new(2026, 11, 25)));
        Assert.Equal(2.0, Assert.Single(day.Points).EnergyKwh, 9);
    }

    [Fact]
    public async Task Duplicates_inside_one_batch_are_detected()
    {
        var (store, _) = await NewStoreAsync();
        var t0 = Epoch.AddHours(1);
        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => store.AppendAsync(Meter("s01", "r1", "m1", 7, t0, 1)).AsTask()));
        Assert.Equal(1, results.Count(r => r == AppendResult.Inserted));
        Assert.Equal(9, results.Count(r => r == AppendResult.Duplicate));
    }

    [Fact]
    public async Task Rows_committed_by_one_store_are_seen_by_a_new_store_on_the_same_database()
    {
        var (first, database) = await NewStoreAsync();
        await first.UpsertSchoolAsync(new SchoolProfile("s01", "Asia/Shanghai", SchoolProfile.WeekdaysSevenToSix));
        var t0 = Local("Asia/Shanghai", 2026, 11, 25, 9);
        await first.AppendAsync(Meter("s01", "r101", "m1", 1, t0, 10));
        await first.AppendAsync(Meter("s01", "r101", "m1", 2, t0.AddMinutes(30), 12));
        await first.AppendAccessAsync(new AccessLogEntry { SchoolId = "s01", RoomId = "r101", DoorId = "d1", EventType = "access", Card = "04A1B2C3", Result = "granted", Reason = "ok", Source = "controller", OccurredAt = t0, Boot = 1, Seq = 9 });
        await first.AppendAuditAsync(new AuditEntry { SchoolId = "s01", Actor = "guard1", Action = "unlock", Target = "d1", At = t0 });
        await first.DisposeAsync();

        var second = await OpenStoreAsync(database);
        Assert.Equal("Asia/Shanghai", second.GetSchoolProfile("s01").TimeZoneId);
        Assert.Equal(AppendResult.Duplicate, await second.AppendAsync(Meter("s01", "r101", "m1", 2, t0.AddMinutes(30), 12)));
        Assert.Equal(AppendResult.Duplicate, await second.AppendAccessAsync(new AccessLogEntry { SchoolId = "s01", RoomId = "r101", DoorId = "d1", EventType = "access", OccurredAt = t0, Boot = 1, Seq = 9 }));
        // The meter's last reading survived: the next delta continues from 12 kWh.
        await second.AppendAsync(Meter("s01", "r101", "m1", 3, t0.AddMinutes(45), 15));
        var day = await second.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.Room("s01", "r101"), EnergyGranularity.Day, new(2026, 11, 25), new(2026, 11, 25)));
        Assert.Equal(5.0, Assert.Single(day.Points).EnergyKwh, 9);
        Assert.Single((await second.GetAccessLogAsync(new AccessLogQuery("s01"))).Items);
        Assert.Single((await second.GetAuditLogAsync(new AuditLogQuery("s01"))).Items);
        Assert.Equal(3, (await second.GetTelemetryAsync(new TelemetryQuery("s01", "m1", Epoch, Epoch.AddDays(2)))).Items.Count);
    }

    [Fact]
    public async Task Concurrent_appenders_all_complete_and_every_row_is_stored()
    {
        var (store, _) = await NewStoreAsync(o => { o.QueueCapacity = 64; o.MaxBatchSize = 50; });
        await store.UpsertSchoolAsync(AllDayOpen("s01", "UTC"));
        const int appenders = 16, perAppender = 100;
        var t0 = Epoch.AddHours(3);
        var results = await Task.WhenAll(Enumerable.Range(0, appenders).Select(a => Task.Run(async () =>
        {
            var inserted = 0;
            for (var i = 0; i < perAppender; i++)
            {
                var r = await store.AppendAsync(Meter("s01", "r" + (a % 4), "m" + a, (uint)(i + 1), t0.AddSeconds(i), i, powerW: 100));
                inserted += r == AppendResult.Inserted ? 1 : 0;
            }
            return inserted;
        })));
        Assert.All(results, n => Assert.Equal(perAppender, n));
        for (var a = 0; a < appenders; a++)
        {
            var rows = await AllPagesAsync(p => store.GetTelemetryAsync(new TelemetryQuery("s01", "m" + a, Epoch, Epoch.AddDays(1), p)), 1000);
            Assert.Equal(perAppender, rows.Count);
            Assert.Equal(Enumerable.Range(1, perAppender).Select(i => (uint)i), rows.Select(r => r.Record.Seq).Order());
        }
        var hour = await store.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.School("s01"), EnergyGranularity.Hour, new(2026, 11, 25), new(2026, 11, 25)));
        var point = Assert.Single(hour.Points);
        Assert.Equal(appenders * perAppender, point.Samples);
        Assert.Equal(appenders * (perAppender - 1.0), point.EnergyKwh, 6);
    }

    // ---- rollups ----------------------------------------------------------------------------

    [Fact]
    public async Task Hourly_and_daily_rollups_come_from_counter_deltas_and_a_reset_never_counts_negative()
    {
        var (store, _) = await NewStoreAsync();
        await store.UpsertSchoolAsync(AllDayOpen("s01", "UTC"));
        var t0 = Epoch.AddHours(8);
        double[] counter = [1000, 1001.5, 1003, 1004, /* reset from zero */ 0.5, 1.5, /* replaced meter, other reading */ 1.2, 1.7];
        // Readings every 20 minutes: 08:00, 08:20, 08:40, 09:00, 09:20, 09:40, then the replaced meter next day.
        var times = new[] { 0, 20, 40, 60, 80, 100 }.Select(m => t0.AddMinutes(m)).ToList();
        times.Add(t0.AddMinutes(100).AddSeconds(1)); // down to 1.2 kWh one second later: too much to be energy since a reset, so a new baseline
        times.Add(t0.AddMinutes(120));
        for (var i = 0; i < counter.Length; i++)
        {
            await store.AppendAsync(Meter("s01", "r1", "m1", (uint)(i + 1), times[i], counter[i], powerW: 100 * (i + 1)));
        }
        var hours = (await store.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.Room("s01", "r1"), EnergyGranularity.Hour, new(2026, 11, 25), new(2026, 11, 25)))).Points;
        Assert.Equal([Epoch.AddHours(8), Epoch.AddHours(9), Epoch.AddHours(10)], hours.Select(p => p.Start));
        Assert.Equal(3.0, hours[0].EnergyKwh, 9);         // 1000 -> 1001.5 -> 1003
        Assert.Equal(1.0 + 0.5 + 1.0 + 0, hours[1].EnergyKwh, 9); // 1004, reset to 0.5 (0.5), 1.5, baseline 1.2
        Assert.Equal(0.5, hours[2].EnergyKwh, 9);          // 1.2 -> 1.7
        Assert.All(hours, p => Assert.True(p.EnergyKwh >= 0));
        Assert.Equal(300.0, hours[0].PeakPowerW);
        Assert.Equal(200.0, hours[0].AvgPowerW!.Value, 9);
        Assert.Equal(3, hours[0].Samples);
        var day = Assert.Single((await store.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.School("s01"), EnergyGranularity.Day, new(2026, 11, 24), new(2026, 11, 26)))).Points);
        Assert.Equal(6.0, day.EnergyKwh, 9);
        Assert.Equal(800.0, day.PeakPowerW);
        Assert.Equal(new DateTimeOffset(2026, 11, 25, 0, 0, 0, TimeSpan.Zero), day.Start);
    }

    [Fact]
    public async Task Daily_and_hourly_buckets_follow_the_school_time_zone_on_both_dst_change_days()
    {
        var (store, _) = await NewStoreAsync();
        await store.UpsertSchoolAsync(AllDayOpen("de1", "Europe/Berlin"));
        // 2026-03-29: clocks go from 02:00 CET to 03:00 CEST; the local day lasts 23 hours,
        // from 2026-03-28T23:00Z to 2026-03-29T22:00Z. One kWh at each full UTC hour from 22:00Z the day before.
        var start = new DateTimeOffset(2026, 3, 28, 21, 30, 0, TimeSpan.Zero);
        var kwh = 0.0;
        uint seq = 1;
        await store.AppendAsync(Meter("de1", "r1", "m1", seq++, start, kwh));
        for (var t = start.AddMinutes(30); t <= new DateTimeOffset(2026, 3, 29, 23, 0, 0, TimeSpan.Zero); t = t.AddHours(1))
        {
            await store.AppendAsync(Meter("de1", "r1", "m1", seq++, t, ++kwh));
        }
        var days = (await store.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.Room("de1", "r1"), EnergyGranularity.Day, new(2026, 3, 28), new(2026, 3, 30)))).Points;
        Assert.Equal([1.0, 23.0, 2.0], days.Select(d => d.EnergyKwh));
        Assert.Equal(new DateTimeOffset(2026, 3, 29, 0, 0, 0, TimeSpan.FromHours(1)), days[1].Start);
        Assert.Equal(new DateTimeOffset(2026, 3, 30, 0, 0, 0, TimeSpan.FromHours(2)), days[2].Start);

        var hours = (await store.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.Room("de1", "r1"), EnergyGranularity.Hour, new(2026, 3, 29), new(2026, 3, 29)))).Points;
        Assert.Equal(23, hours.Count);
        Assert.Equal(new DateTimeOffset(2026, 3, 29, 1, 0, 0, TimeSpan.FromHours(1)), hours[1].Start);
        Assert.Equal(new DateTimeOffset(2026, 3, 29, 3, 0, 0, TimeSpan.FromHours(2)), hours[2].Start);
        Assert.All(hours, h => Assert.Equal(1.0, h.EnergyKwh, 9));

        // 2026-10-25: clocks go back from 03:00 CEST to 02:00 CET; the local day lasts 25 hours.
        var autumn = new DateTimeOffset(2026, 10, 24, 21, 30, 0, TimeSpan.Zero);
        kwh = 0;
        seq = 1;
        await store.AppendAsync(Meter("de1", "r2", "m2", seq++, autumn, kwh));
        for (var t = autumn.AddMinutes(30); t <= new DateTimeOffset(2026, 10, 25, 22, 0, 0, TimeSpan.Zero); t = t.AddHours(1))
        {
            await store.AppendAsync(Meter("de1", "r2", "m2", seq++, t, ++kwh));
        }
        var longDay = Assert.Single((await store.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.Room("de1", "r2"), EnergyGranularity.Day, new(2026, 10, 25), new(2026, 10, 25)))).Points);
        Assert.Equal(25.0, longDay.EnergyKwh, 9);
        var longHours = (await store.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.Room("de1", "r2"), EnergyGranularity.Hour, new(2026, 10, 25), new(2026, 10, 25)))).Points;
        Assert.Equal(25, longHours.Count);
        Assert.Equal(new DateTimeOffset(2026, 10, 25, 2, 0, 0, TimeSpan.FromHours(2)), longHours[2].Start);
        Assert.Equal(new DateTimeOffset(2026, 10, 25, 2, 0, 0, TimeSpan.FromHours(1)), longHours[3].Start);
    }

    [Fact]
    public async Task Daily_buckets_of_a_school_in_Shanghai_change_at_local_midnight()
    {
        var (store, _) = await NewStoreAsync();
        await store.UpsertSchoolAsync(AllDayOpen("cn1", "Asia/Shanghai"));
        await store.UpsertSchoolAsync(AllDayOpen("utc1", "UTC"));
        // 15:00Z..17:00Z is one UTC day but spans Shanghai midnight (16:00Z).
        foreach (var school in new[] { "cn1", "utc1" })
        {
            await store.AppendAsync(Meter(school, "r1", "m-" + school, 1, new DateTimeOffset(2026, 11, 25, 15, 0, 0, TimeSpan.Zero), 0));
            await store.AppendAsync(Meter(school, "r1", "m-" + school, 2, new DateTimeOffset(2026, 11, 25, 15, 30, 0, TimeSpan.Zero), 1));
            await store.AppendAsync(Meter(school, "r1", "m-" + school, 3, new DateTimeOffset(2026, 11, 25, 16, 30, 0, TimeSpan.Zero), 3));
        }
        var cn = (await store.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.School("cn1"), EnergyGranularity.Day, new(2026, 11, 25), new(2026, 11, 26)))).Points;
        Assert.Equal([(new DateTimeOffset(2026, 11, 25, 0, 0, 0, TimeSpan.FromHours(8)), 1.0), (new DateTimeOffset(2026, 11, 26, 0, 0, 0, TimeSpan.FromHours(8)), 2.0)],
            cn.Select(p => (p.Start, p.EnergyKwh)));
        var utc = (await store.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.School("utc1"), EnergyGranularity.Day, new(2026, 11, 25), new(2026, 11, 26)))).Points;
        Assert.Equal(3.0, Assert.Single(utc).EnergyKwh, 9);
    }

    [Fact]
    public async Task Energy_outside_opening_hours_is_booked_as_after_hours_and_ranked()
    {
        var (store, _) = await NewStoreAsync();
        await store.UpsertSchoolAsync(new SchoolProfile("s01", "Asia/Shanghai", SchoolProfile.WeekdaysSevenToSix));
        await store.UpsertSchoolAsync(new SchoolProfile("s02", "Asia/Shanghai", SchoolProfile.WeekdaysSevenToSix));
        const string zone = "Asia/Shanghai";
        // Wednesday 2026-11-25: 16:00 baseline, 17:00 +1 (open), 19:00 +2 (after hours); Saturday 10:00 +3 (closed).
        async Task Feed(string school, string room, string device, double factor)
        {
            await store.AppendAsync(Meter(school, room, device, 1, Local(zone, 2026, 11, 25, 16), 0));
            await store.AppendAsync(Meter(school, room, device, 2, Local(zone, 2026, 11, 25, 17), 1 * factor));
            await store.AppendAsync(Meter(school, room, device, 3, Local(zone, 2026, 11, 25, 19), 3 * factor));
            await store.AppendAsync(Meter(school, room, device, 4, Local(zone, 2026, 11, 28, 10), 6 * factor));
        }
        await Feed("s01", "lab", "m1", 1);
        await Feed("s01", "hall", "m2", 3);
        await Feed("s01", "office", "m3", 2);
        await Feed("s02", "lab", "m4", 10);

        var days = (await store.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.Room("s01", "lab"), EnergyGranularity.Day, new(2026, 11, 25), new(2026, 11, 28)))).Points;
        Assert.Equal([(3.0, 2.0), (3.0, 3.0)], days.Select(d => (d.EnergyKwh, d.AfterHoursKwh)));

        var rooms = await store.GetAfterHoursRankingAsync(new AfterHoursRankingQuery("s01", new(2026, 11, 23), new(2026, 11, 29)));
        Assert.Equal(["s01/hall", "s01/office", "s01/lab"], rooms.Select(r => r.Target.ToString()));
        Assert.Equal([1, 2, 3], rooms.Select(r => r.Rank));
        Assert.Equal(15.0, rooms[0].AfterHoursKwh, 9);
        Assert.Equal(18.0, rooms[0].EnergyKwh, 9);
        Assert.Equal(15.0 / 18.0, rooms[0].Share, 9);

        var secondPage = await store.GetAfterHoursRankingAsync(new AfterHoursRankingQuery("s01", new(2026, 11, 23), new(2026, 11, 29), new RankPage(1, 1)));
        Assert.Equal((2, "s01/office"), (Assert.Single(secondPage).Rank, secondPage[0].Target.ToString()));

        var schools = await store.GetAfterHoursRankingAsync(new AfterHoursRankingQuery(null, new(2026, 11, 23), new(2026, 11, 29)));
        Assert.Equal([("s02", 50.0), ("s01", 30.0)], schools.Select(s => (s.Target.SchoolId!, Math.Round(s.AfterHoursKwh, 6))));
        // Days outside the range are not counted.
        var wednesdayOnly = await store.GetAfterHoursRankingAsync(new AfterHoursRankingQuery(null, new(2026, 11, 25), new(2026, 11, 25)));
        Assert.Equal(20.0, wednesdayOnly[0].AfterHoursKwh, 9);
    }

    [Fact]
    public async Task Series_are_scoped_by_school_and_the_district_sums_its_schools()
    {
        var (store, _) = await NewStoreAsync(o => o.DefaultTimeZoneId = "Asia/Shanghai");
        await store.UpsertSchoolAsync(AllDayOpen("s01", "Asia/Shanghai"));
        await store.UpsertSchoolAsync(AllDayOpen("s02", "Asia/Shanghai"));
        var t0 = Local("Asia/Shanghai", 2026, 11, 2, 9);
        // Same room id in two schools; energy on two days of November and one of December.
        foreach (var (school, f) in new[] { ("s01", 1.0), ("s02", 10.0) })
        {
            await store.AppendAsync(Meter(school, "r101", "m-" + school, 1, t0, 0, 1000 * f));
            await store.AppendAsync(Meter(school, "r101", "m-" + school, 2, t0.AddHours(1), 1 * f, 3000 * f));
            await store.AppendAsync(Meter(school, "r101", "m-" + school, 3, t0.AddDays(10), 3 * f, 2000 * f));
            await store.AppendAsync(Meter(school, "r101", "m-" + school, 4, t0.AddDays(31), 7 * f, 1000 * f));
        }
        var room = (await store.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.Room("s01", "r101"), EnergyGranularity.Month, new(2026, 11, 1), new(2026, 12, 31)))).Points;
        Assert.Equal([3.0, 4.0], room.Select(p => p.EnergyKwh));
        Assert.Equal(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.FromHours(8)), room[0].Start);
        Assert.Equal(3000.0, room[0].PeakPowerW);
        Assert.Equal(2000.0, room[0].AvgPowerW!.Value, 9);
        Assert.Equal(3, room[0].Samples);

        var compare = await store.CompareEnergyAsync([EnergyTarget.School("s01"), EnergyTarget.School("s02")], EnergyGranularity.Month, new(2026, 11, 1), new(2026, 12, 31));
        Assert.Equal([[3.0, 4.0], [30.0, 40.0]], compare.Select(s => s.Points.Select(p => Math.Round(p.EnergyKwh, 6)).ToArray()));
        var district = (await store.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.District(), EnergyGranularity.Day, new(2026, 11, 1), new(2026, 11, 30)))).Points;
        Assert.Equal([11.0, 22.0], district.Select(p => Math.Round(p.EnergyKwh, 6)));
        var other = await store.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.Room("s03", "r101"), EnergyGranularity.Day, new(2026, 11, 1), new(2026, 11, 30)));
        Assert.Empty(other.Points);
    }

    [Fact]
    public async Task Energy_series_are_bounded()
    {
        var (store, _) = await NewStoreAsync();
        await Assert.ThrowsAsync<ArgumentException>(() => store.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.District(), EnergyGranularity.Hour, new(2026, 1, 1), new(2026, 6, 1))));
        await Assert.ThrowsAsync<ArgumentException>(() => store.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.District(), EnergyGranularity.Day, new(2026, 6, 1), new(2026, 1, 1))));
        await Assert.ThrowsAsync<ArgumentException>(() => store.CompareEnergyAsync([.. Enumerable.Range(0, 21).Select(i => EnergyTarget.School("s" + i))], EnergyGranularity.Day, new(2026, 1, 1), new(2026, 1, 2)));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.GetAuditLogAsync(new AuditLogQuery(null, Page: new PageRequest(5000))));
    }

    [Fact]
    public async Task Csv_export_writes_a_header_and_one_line_per_bucket()
    {
        var (store, _) = await NewStoreAsync();
        await store.UpsertSchoolAsync(AllDayOpen("s01", "Asia/Shanghai"));
        var t0 = Local("Asia/Shanghai", 2026, 11, 25, 9);
        await store.AppendAsync(Meter("s01", "r1", "m1", 1, t0, 10, 500));
        await store.AppendAsync(Meter("s01", "r1", "m1", 2, t0.AddHours(1), 11.25, 1500));
        await store.AppendAsync(Meter("s01", "r1", "m1", 3, t0.AddHours(2), 13, 1000));
        using var text = new StringWriter(CultureInfo.InvariantCulture);
        await store.ExportEnergyCsvAsync(new EnergySeriesQuery(EnergyTarget.Room("s01", "r1"), EnergyGranularity.Hour, new(2026, 11, 25), new(2026, 11, 25)), text);
        var lines = text.ToString().Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("target,granularity,start,energy_kwh,after_hours_kwh,avg_power_w,peak_power_w,samples", lines[0]);
        Assert.Equal(
        [
            "s01/r1,hour,2026-11-25T09:00:00+08:00,0,0,500,500,1",
            "s01/r1,hour,2026-11-25T10:00:00+08:00,1.25,0,1500,1500,1",
            "s01/r1,hour,2026-11-25T11:00:00+08:00,1.75,0,1000,1000,1",
        ], lines[1..]);
    }

    // ---- logs -------------------------------------------------------------------------------

    [Fact]
    public async Task Access_log_returns_the_latest_events_paged_and_scoped_by_school_door_and_person()
    {
        var (store, _) = await NewStoreAsync();
        var t0 = Epoch.AddHours(7);
        for (var i = 0; i < 25; i++)
        {
            await store.AppendAccessAsync(new AccessLogEntry
            {
                SchoolId = i % 5 == 0 ? "s02" : "s01",
                RoomId = "gate",
                DoorId = i % 2 == 0 ? "d-north" : "d-south",
                EventType = "access",
                PersonId = "p" + (i % 3),
                Card = "04A1B2C" + (i % 10).ToString(CultureInfo.InvariantCulture),
                Result = i % 4 == 0 ? "denied" : "granted",
                Reason = i % 4 == 0 ? "outside-schedule" : "ok",
                Source = "controller",
                OccurredAt = t0.AddMinutes(i % 12), // several events share a time: paging must not skip or repeat them
                Boot = 1,
                Seq = (uint)(i + 1),
            });
        }
        var s01 = await AllPagesAsync(p => store.GetAccessLogAsync(new AccessLogQuery("s01", Page: p)), 4);
        Assert.Equal(20, s01.Count);
        Assert.All(s01, e => Assert.Equal("s01", e.Entry.SchoolId));
        Assert.Equal(20, s01.Select(e => e.Id).Distinct().Count());
        Assert.Equal(s01.OrderByDescending(e => e.Entry.OccurredAt).ThenByDescending(e => e.Id).Select(e => e.Id), s01.Select(e => e.Id));

        var latest = await store.GetAccessLogAsync(new AccessLogQuery("s01", Page: new PageRequest(3)));
        Assert.Equal(3, latest.Items.Count);
        Assert.Equal(t0.AddMinutes(11), latest.Items[0].Entry.OccurredAt);
        Assert.NotNull(latest.NextCursor);

        var north = await AllPagesAsync(p => store.GetAccessLogAsync(new AccessLogQuery("s01", DoorId: "d-north", Page: p)), 100);
        Assert.Equal(Enumerable.Range(0, 25).Count(i => i % 5 != 0 && i % 2 == 0), north.Count);
        var p1 = await AllPagesAsync(p => store.GetAccessLogAsync(new AccessLogQuery("s01", PersonId: "p1", Page: p)), 100);
        Assert.Equal(Enumerable.Range(0, 25).Count(i => i % 5 != 0 && i % 3 == 1), p1.Count);
        var window = await AllPagesAsync(p => store.GetAccessLogAsync(new AccessLogQuery(null, From: t0.AddMinutes(10), To: t0.AddMinutes(11), Page: p)), 100);
        Assert.Equal(Enumerable.Range(0, 25).Count(i => i % 12 == 10), window.Count);
        var all = await AllPagesAsync(p => store.GetAccessLogAsync(new AccessLogQuery(null, Page: p)), 7);
        Assert.Equal(25, all.Count);
        var denied = all.First(e => e.Entry.Result == "denied");
        Assert.Equal("outside-schedule", denied.Entry.Reason);
        Assert.Equal("controller", denied.Entry.Source);
    }

    [Fact]
    public async Task Audit_log_is_appended_and_read_by_school_and_time_with_paging()
    {
        var (store, _) = await NewStoreAsync();
        var t0 = Epoch.AddHours(12);
        for (var i = 0; i < 30; i++)
        {
            await store.AppendAuditAsync(new AuditEntry
            {
                SchoolId = i % 3 == 0 ? null : (i % 3 == 1 ? "s01" : "s02"),
                Actor = i % 2 == 0 ? "admin" : "guard",
                Action = "unlock",
                Target = "door-" + i.ToString(CultureInfo.InvariantCulture),
                Details = "{\"openMs\":5000}",
                At = t0.AddMinutes(i),
            });
        }
        var s01 = await AllPagesAsync(p => store.GetAuditLogAsync(new AuditLogQuery("s01", Page: p)), 3);
        Assert.Equal(10, s01.Count);
        Assert.Equal(Enumerable.Range(0, 30).Where(i => i % 3 == 1).Reverse().Select(i => "door-" + i.ToString(CultureInfo.InvariantCulture)), s01.Select(e => e.Entry.Target));
        Assert.Equal("{\"openMs\":5000}", s01[0].Entry.Details);
        Assert.Equal(t0.AddMinutes(28), s01[0].Entry.At);
        var ranged = await store.GetAuditLogAsync(new AuditLogQuery("s02", From: t0.AddMinutes(5), To: t0.AddMinutes(15), Actor: "admin"));
        Assert.Equal(["door-14", "door-8"], ranged.Items.Select(e => e.Entry.Target));
        Assert.Null(ranged.NextCursor);
        var district = await AllPagesAsync(p => store.GetAuditLogAsync(new AuditLogQuery(null, Page: p)), 50);
        Assert.Equal(30, district.Count);
    }

    [Fact]
    public async Task Alert_history_keeps_each_snapshot_of_an_alert()
    {
        var (store, _) = await NewStoreAsync();
        var t0 = Epoch.AddHours(20);
        string[] states = ["open", "open", "acknowledged", "resolved", "closed"];
        for (var i = 0; i < states.Length; i++)
        {
            await store.AppendAlertAsync(new AlertSnapshot
            {
                SchoolId = "s01", AlertId = "a-1", Source = "d-north", Type = "door-forced", Severity = "critical",
                State = states[i], RoomId = "gate", Count = i == 1 ? 2 : 1, ChangedBy = i >= 2 ? "guard1" : null,
                Note = i == 3 ? "checked, wind" : null, ChangedAt = t0.AddMinutes(i),
            });
        }
        await store.AppendAlertAsync(new AlertSnapshot { SchoolId = "s02", AlertId = "a-2", Source = "m1", Type = "device-offline", Severity = "warning", State = "open", ChangedAt = t0 });
        var history = (await store.GetAlertHistoryAsync(new AlertHistoryQuery("s01", AlertId: "a-1"))).Items;
        Assert.Equal(Enumerable.Reverse(states), history.Select(h => h.Snapshot.State));
        Assert.Equal("checked, wind", history[1].Snapshot.Note);
        Assert.Equal(2, history[3].Snapshot.Count);
        Assert.Single((await store.GetAlertHistoryAsync(new AlertHistoryQuery("s02"))).Items);
    }

    // ---- retention --------------------------------------------------------------------------

    [Fact]
    public async Task Retention_purge_deletes_old_rows_in_chunks_and_keeps_rollups_and_the_audit_log()
    {
        var (store, _) = await NewStoreAsync(o =>
        {
            o.Retention.Telemetry = TimeSpan.FromDays(90);
            o.Retention.AccessLog = TimeSpan.FromDays(30);
            o.Retention.ChunkSize = 7;
        });
        await store.UpsertSchoolAsync(AllDayOpen("s01", "UTC"));
        var old = Epoch.AddDays(-100);
        for (var i = 0; i < 23; i++)
        {
            await store.AppendAsync(Meter("s01", "r1", "m1", (uint)(i + 1), old.AddMinutes(i), i));
        }
        await store.AppendAsync(Meter("s01", "r1", "m1", 100, Epoch.AddDays(-10), 30));
        await store.AppendAccessAsync(new AccessLogEntry { SchoolId = "s01", RoomId = "g", DoorId = "d1", EventType = "access", OccurredAt = Epoch.AddDays(-40), Boot = 1, Seq = 1 });
        await store.AppendAccessAsync(new AccessLogEntry { SchoolId = "s01", RoomId = "g", DoorId = "d1", EventType = "access", OccurredAt = Epoch.AddDays(-1), Boot = 1, Seq = 2 });
        await store.AppendAuditAsync(new AuditEntry { SchoolId = "s01", Actor = "admin", Action = "lockdown.start", Target = "s01", At = Epoch.AddDays(-1000) });

        var result = await store.PurgeAsync();
        Assert.Equal(new PurgeResult(23, 1, 0, 0), result);
        var left = (await store.GetTelemetryAsync(new TelemetryQuery("s01", "m1", Epoch.AddDays(-200), Epoch))).Items;
        Assert.Equal(100u, Assert.Single(left).Record.Seq);
        Assert.Equal(2u, Assert.Single((await store.GetAccessLogAsync(new AccessLogQuery("s01"))).Items).Entry.Seq);
        Assert.Single((await store.GetAuditLogAsync(new AuditLogQuery("s01"))).Items);
        var oldDay = (await store.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.Room("s01", "r1"), EnergyGranularity.Day, DateOnly.FromDateTime(old.UtcDateTime), DateOnly.FromDateTime(old.UtcDateTime)))).Points;
        Assert.Equal(22.0, Assert.Single(oldDay).EnergyKwh, 9);
        Assert.Equal(new PurgeResult(0, 0, 0, 0), await store.PurgeAsync());

        Time.Advance(TimeSpan.FromDays(81));
        // Now the meter's newest reading is old too: PostgreSQL keeps it, as the meter's state.
        Assert.Equal(PurgeKeepsEachMetersNewestReading ? 0 : 1, (await store.PurgeAsync()).Telemetry);
    }

    /// <summary>Whether the store's retention purge keeps each meter's newest reading.</summary>
    private protected virtual bool PurgeKeepsEachMetersNewestReading => false;

    // ---- failures ---------------------------------------------------------------------------

    [Fact]
    public async Task A_storage_outage_fails_appends_with_a_typed_exception_and_the_store_recovers()
    {
        var (store, database) = await NewStoreAsync(o => o.SqliteBusyTimeout = TimeSpan.FromSeconds(1));
        var t0 = Epoch.AddHours(6);
        Assert.Equal(AppendResult.Inserted, await store.AppendAsync(Meter("s01", "r1", "m1", 1, t0, 1)));
        Assert.True(store.Health.IsHealthy);

        await BreakStorageAsync(database, store);
        var failed = Meter("s01", "r1", "m1", 2, t0.AddMinutes(1), 2);
        var ex = await Assert.ThrowsAsync<StorageUnavailableException>(() => store.AppendAsync(failed).AsTask());
        Assert.NotNull(ex.InnerException);
        await Assert.ThrowsAsync<StorageUnavailableException>(() => store.AppendAuditAsync(new AuditEntry { Actor = "a", Action = "unlock", Target = "d", At = t0 }).AsTask());
        var health = store.Health;
        Assert.Equal(HistoryHealthStatus.Degraded, health.Status);
        Assert.False(string.IsNullOrEmpty(health.Reason));
        Assert.Equal(HistoryHealthStatus.Degraded, (await store.CheckHealthAsync()).Status);

        await RestoreStorageAsync(database, store);
        Assert.Equal(HistoryHealthStatus.Healthy, (await store.CheckHealthAsync()).Status);
        // Nothing of the failed write was stored: it is new now, and the store works again.
        Assert.Equal(AppendResult.Inserted, await store.AppendAsync(failed));
        Assert.Equal(AppendResult.Inserted, await store.AppendAsync(Meter("s01", "r1", "m1", 3, t0.AddMinutes(2), 4)));
        Assert.True(store.Health.IsHealthy);
        var hour = (await store.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.Room("s01", "r1"), EnergyGranularity.Hour, new(2026, 11, 25), new(2026, 11, 25)))).Points;
        Assert.Equal(3.0, Assert.Single(hour).EnergyKwh, 9);
    }

    [Fact]
    public async Task Telemetry_rows_keep_every_measured_value()
    {
        var (store, _) = await NewStoreAsync();
        var t0 = Epoch.AddHours(2);
        var record = new TelemetryRecord
        {
            SchoolId = "s01", RoomId = "lab1", DeviceId = "kit07", Kind = "maker", Boot = 4, Seq = uint.MaxValue,
            DeviceTime = t0, ReceivedAt = t0.AddMilliseconds(250), EnergyKwh = 1.5, PowerW = 2.5, VoltageV = 229.8, CurrentA = 3.54,
            PowerFactor = 0.98, TemperatureC = -4.25, HumidityPct = 41.2, Occupied = true, ReadingsJson = "{\"soil\":512,\"light\":730,\"label\":\"Gewächshaus ☀\"}",
        };
        var bare = new TelemetryRecord { SchoolId = "s01", RoomId = "lab1", DeviceId = "kit07", Kind = "maker", Boot = 4, Seq = 1, ReceivedAt = t0.AddSeconds(5) };
        await store.AppendAsync(record);
        await store.AppendAsync(bare);
        var rows = (await store.GetTelemetryAsync(new TelemetryQuery("s01", "kit07", t0, t0.AddMinutes(1)))).Items;
        Assert.Equal([bare, record], rows.Select(r => r.Record));
        Assert.Empty((await store.GetTelemetryAsync(new TelemetryQuery("s02", "kit07", t0, t0.AddMinutes(1)))).Items);
    }
}
