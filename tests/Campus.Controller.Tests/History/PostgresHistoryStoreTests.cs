using Campus.Controller.History;
using Campus.Testing;
using Npgsql;

namespace Campus.Controller.Tests.History;

public class PostgresHistoryStoreTests : HistoryStoreContract
{
    protected override async Task<string> CreateDatabaseAsync() =>
        await (await PostgresServer.GetAsync()).CreateDatabaseAsync("history");

    private protected override IHistoryStore Open(string database, HistoryOptions options, TimeProvider time) =>
        new PostgresHistoryStore(options, time, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

    /// <summary>The database stops taking connections and every session on it is killed, as in a server restart.</summary>
    private protected override async Task BreakStorageAsync(string database, IHistoryStore store)
    {
        var name = new NpgsqlConnectionStringBuilder(database).Database!;
        await AdminAsync(database, $"ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS false");
        await AdminAsync(database, $"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()");
    }

    private protected override async Task RestoreStorageAsync(string database, IHistoryStore store)
    {
        var name = new NpgsqlConnectionStringBuilder(database).Database!;
        await AdminAsync(database, $"ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS true");
    }

    private static async Task AdminInDatabaseAsync(string database, string sql)
    {
        await using var conn = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(database) { Pooling = false }.ConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task AdminAsync(string database, string sql)
    {
        var admin = new NpgsqlConnectionStringBuilder(database) { Database = "postgres", Pooling = false }.ConnectionString;
        await using var conn = new NpgsqlConnection(admin);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }

    private protected static async Task<T> ScalarAsync<T>(string database, string sql)
    {
        await using var conn = new NpgsqlConnection(database);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Schema_version_is_recorded_and_a_second_start_does_not_migrate_again()
    {
        var (store, database) = await NewStoreAsync();
        await store.DisposeAsync();
        await OpenStoreAsync(database);
        Assert.Equal(2L, await ScalarAsync<long>(database, "SELECT COUNT(*) FROM schema_version"));
        Assert.Equal(2, await ScalarAsync<int>(database, "SELECT MAX(version) FROM schema_version"));
    }

    [Fact]
    public async Task Telemetry_is_vacuumed_after_a_million_inserts_and_meter_rows_leave_room_for_updates_on_their_page()
    {
        var (_, database) = await NewStoreAsync();
        Assert.Equal("autovacuum_vacuum_insert_threshold=1000000",
            await ScalarAsync<string>(database, "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'telemetry'"));
        Assert.Equal("fillfactor=50",
            await ScalarAsync<string>(database, "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'meter_state'"));
    }

    private protected override bool PurgeKeepsEachMetersNewestReading => true;

    /// <summary>A new store with school s01 open all day, in UTC.</summary>
    private async Task<(IHistoryStore Store, string Database)> NewSchoolStoreAsync(Action<HistoryOptions>? configure = null)
    {
        var (store, database) = await NewStoreAsync(configure);
        await store.UpsertSchoolAsync(AllDayOpen("s01", "UTC"));
        return (store, database);
    }

    private static Task<long> MeterRowsAsync(string database) => ScalarAsync<long>(database, "SELECT COUNT(*) FROM meter_state");

    private static Task<string> MeterRowAsync(string database, string device) =>
        ScalarAsync<string>(database, $"SELECT format('%s/%s/%s', boot, seq, energy_kwh) FROM meter_state WHERE device = '{device}'");

    private async Task<double> RoomEnergyAsync(IHistoryStore store, string room) =>
        (await store.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.Room("s01", room), EnergyGranularity.Day, new(2026, 11, 25), new(2026, 11, 25))))
            .Points.Sum(p => p.EnergyKwh);

    [Fact]
    public async Task Readings_counted_in_order_write_no_meter_row_and_a_new_store_resumes_from_the_newest_reading()
    {
        var (store, database) = await NewSchoolStoreAsync();
        var t0 = Epoch.AddHours(9);
        await store.AppendAsync(Meter("s01", "r1", "m1", 1, t0, 10));
        await store.AppendAsync(Meter("s01", "r1", "m1", 2, t0.AddMinutes(10), 12));
        // A reading without a counter is not the meter's state.
        await store.AppendAsync(Meter("s01", "r1", "m1", 3, t0.AddMinutes(15), null, powerW: 500));
        Assert.Equal(0L, await MeterRowsAsync(database));
        await store.DisposeAsync();

        var second = await OpenStoreAsync(database);
        await second.AppendAsync(Meter("s01", "r1", "m1", 4, t0.AddMinutes(20), 15));
        Assert.Equal(5.0, await RoomEnergyAsync(second, "r1"), 9);
        Assert.Equal(0L, await MeterRowsAsync(database));
    }

    [Fact]
    public async Task A_new_boot_whose_clock_is_behind_keeps_the_counted_reading_in_a_meter_row_across_a_restart()
    {
        var (store, database) = await NewSchoolStoreAsync();
        var t0 = Epoch.AddHours(9);
        await store.AppendAsync(Meter("s01", "r1", "m1", 1, t0.AddMinutes(60), 10));
        await store.AppendAsync(Meter("s01", "r1", "m1", 2, t0.AddMinutes(70), 12));
        // Boot 2 with its clock behind: not newer than the last reading, so not counted; the state stays boot 1 seq 2.
        await store.AppendAsync(Meter("s01", "r1", "m1", 1, t0.AddMinutes(30), 20, boot: 2));
        Assert.Equal("1/2/12", await MeterRowAsync(database, "m1"));
        await store.DisposeAsync();

        var second = await OpenStoreAsync(database);
        // Counted from 12 kWh (boot 1 seq 2), not from boot 2's 20 kWh.
        await second.AppendAsync(Meter("s01", "r1", "m1", 3, t0.AddMinutes(80), 13));
        Assert.Equal(3.0, await RoomEnergyAsync(second, "r1"), 9);
        Assert.Equal("1/3/13", await MeterRowAsync(database, "m1"));
        // Boot 2 again, its clock now set: counted, and it is the newest reading, so the row goes.
        await second.AppendAsync(Meter("s01", "r1", "m1", 2, t0.AddMinutes(90), 21, boot: 2));
        Assert.Equal(11.0, await RoomEnergyAsync(second, "r1"), 9);
        Assert.Equal(0L, await MeterRowsAsync(database));
        await second.DisposeAsync();

        var third = await OpenStoreAsync(database);
        await third.AppendAsync(Meter("s01", "r1", "m1", 3, t0.AddMinutes(100), 22, boot: 2));
        Assert.Equal(12.0, await RoomEnergyAsync(third, "r1"), 9);
    }

    [Fact]
    public async Task A_meter_whose_boot_counter_went_back_keeps_its_state_in_a_meter_row_across_a_restart()
    {
        var (store, database) = await NewSchoolStoreAsync();
        var t0 = Epoch.AddHours(9);
        await store.AppendAsync(Meter("s01", "r1", "m1", 1, t0, 10, boot: 5));
        // Its stored boot counter was erased: boot 1, later in time, is counted though (5, 1) stays the highest key.
        await store.AppendAsync(Meter("s01", "r1", "m1", 1, t0.AddMinutes(10), 12, boot: 1));
        Assert.Equal("1/1/12", await MeterRowAsync(database, "m1"));
        await store.DisposeAsync();

        var second = await OpenStoreAsync(database);
        await second.AppendAsync(Meter("s01", "r1", "m1", 2, t0.AddMinutes(20), 15, boot: 1));
        Assert.Equal(5.0, await RoomEnergyAsync(second, "r1"), 9);
        Assert.Equal("1/2/15", await MeterRowAsync(database, "m1"));
    }

    [Fact]
    public async Task The_purge_keeps_each_meters_newest_reading_so_a_new_store_resumes_its_counter()
    {
        var (store, database) = await NewSchoolStoreAsync(o => o.Retention.Telemetry = TimeSpan.FromDays(90));
        var old = Epoch.AddDays(-100);
        for (var i = 0; i < 3; i++)
        {
            await store.AppendAsync(Meter("s01", "r1", "m1", (uint)(i + 1), old.AddMinutes(i), 10 + i));
            // Readings without a counter (another device, and this meter's last one) all go.
            await store.AppendAsync(Meter("s01", "r1", "n1", (uint)(i + 1), old.AddMinutes(i), null, powerW: 5));
        }
        await store.AppendAsync(Meter("s01", "r1", "m1", 4, old.AddMinutes(5), null, powerW: 5));

        Assert.Equal(6, (await store.PurgeAsync()).Telemetry);
        Assert.Equal(3u, Assert.Single((await store.GetTelemetryAsync(new TelemetryQuery("s01", "m1", old.AddDays(-1), Epoch))).Items).Record.Seq);
        Assert.Empty((await store.GetTelemetryAsync(new TelemetryQuery("s01", "n1", old.AddDays(-1), Epoch))).Items);
        await store.DisposeAsync();

        var second = await OpenStoreAsync(database, o => o.Retention.Telemetry = TimeSpan.FromDays(90));
        await second.AppendAsync(Meter("s01", "r1", "m1", 5, Epoch.AddHours(9), 20));
        Assert.Equal(8.0, await RoomEnergyAsync(second, "r1"), 9);
        // Once a newer reading is stored, the kept one goes with the next purge.
        Assert.Equal(1, (await second.PurgeAsync()).Telemetry);
    }

    [Fact]
    public async Task Readings_of_one_meter_in_one_batch_counted_or_not_leave_the_state_a_new_store_resumes_from()
    {
        var (store, database) = await NewSchoolStoreAsync(o => o.Writers = 1);
        var t0 = Epoch.AddHours(9);
        await store.AppendAsync(Meter("s01", "r1", "m1", 1, t0.AddMinutes(60), 10));

        // A table lock holds the writer on another meter's reading while the next ones queue up: they
        // are then taken as one batch.
        await using var locker = new NpgsqlConnection(database);
        await locker.OpenAsync();
        await using var tx = await locker.BeginTransactionAsync();
        await using (var lockCmd = new NpgsqlCommand("LOCK TABLE telemetry IN EXCLUSIVE MODE", locker, tx))
        {
            await lockCmd.ExecuteNonQueryAsync();
        }
        var blocked = store.AppendAsync(Meter("s01", "r2", "m2", 1, t0, 1)).AsTask();
        await Poll.UntilAsync(async () => await ScalarAsync<long>(database, "SELECT COUNT(*) FROM pg_locks WHERE NOT granted AND relation = 'telemetry'::regclass AND database = (SELECT oid FROM pg_database WHERE datname = current_database())") > 0, "the writer waits for the table lock");
        var batch = new[]
        {
            Meter("s01", "r1", "m1", 1, t0.AddMinutes(30), 20, boot: 2), // a new boot with its clock behind: not counted
            Meter("s01", "r1", "m1", 2, t0.AddMinutes(70), 12),           // counted: 2 kWh
            Meter("s01", "r1", "m1", 2, t0.AddMinutes(70), 12),           // its copy
            Meter("s01", "r1", "m1", 3, t0.AddMinutes(65), 13),           // same boot, next seq: counted, 1 kWh
        }.Select(r => store.AppendAsync(r).AsTask()).ToList();
        await tx.CommitAsync();
        Assert.Equal(AppendResult.Inserted, await blocked);
        Assert.Equal([AppendResult.Inserted, AppendResult.Inserted, AppendResult.Duplicate, AppendResult.Inserted], await Task.WhenAll(batch));
        Assert.Equal(3.0, await RoomEnergyAsync(store, "r1"), 9);
        Assert.Equal("1/3/13", await MeterRowAsync(database, "m1")); // boot 2 seq 1 is the highest key
        await store.DisposeAsync();

        var second = await OpenStoreAsync(database);
        await second.AppendAsync(Meter("s01", "r1", "m1", 4, t0.AddMinutes(80), 15));
        Assert.Equal(5.0, await RoomEnergyAsync(second, "r1"), 9);
    }

    [Fact]
    public async Task A_batch_that_fails_after_its_meters_were_counted_leaves_no_trace_in_the_writers_cache()
    {
        var (store, database) = await NewSchoolStoreAsync(o => o.Writers = 1);
        var t0 = Epoch.AddHours(9);
        await store.AppendAsync(Meter("s01", "r1", "m1", 1, t0, 10));
        // The rollups, in the second round trip, are refused: the meter was counted in memory by then.
        await AdminInDatabaseAsync(database, """
            CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused for the test'; END $$;
            CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON energy_hourly FOR EACH ROW EXECUTE FUNCTION refuse();
            """);
        await Assert.ThrowsAsync<StorageUnavailableException>(() => store.AppendAsync(Meter("s01", "r1", "m1", 2, t0.AddMinutes(10), 12)).AsTask());
        await Assert.ThrowsAsync<StorageUnavailableException>(() => store.AppendAsync(Meter("s01", "r1", "m1", 1, t0.AddMinutes(-10), 30, boot: 2)).AsTask());
        await AdminInDatabaseAsync(database, "DROP TRIGGER refuse ON energy_hourly");

        // Sent again, both count as if the failed batches never happened.
        Assert.Equal(AppendResult.Inserted, await store.AppendAsync(Meter("s01", "r1", "m1", 2, t0.AddMinutes(10), 12)));
        Assert.Equal(AppendResult.Inserted, await store.AppendAsync(Meter("s01", "r1", "m1", 1, t0.AddMinutes(-10), 30, boot: 2)));
        Assert.Equal(2.0, await RoomEnergyAsync(store, "r1"), 9);
        Assert.Equal("1/2/12", await MeterRowAsync(database, "m1"));
        await store.DisposeAsync();

        var second = await OpenStoreAsync(database);
        await second.AppendAsync(Meter("s01", "r1", "m1", 3, t0.AddMinutes(20), 13));
        Assert.Equal(3.0, await RoomEnergyAsync(second, "r1"), 9);
    }

    [Fact]
    public async Task A_meter_row_left_by_an_earlier_version_is_the_state_and_goes_once_the_newest_reading_is_the_state()
    {
        var (store, database) = await NewSchoolStoreAsync();
        var t0 = Epoch.AddHours(9);
        await store.AppendAsync(Meter("s01", "r1", "m1", 1, t0, 10));
        await store.DisposeAsync();
        // Earlier versions kept a row for every meter; this one says 11 kWh, so it is what counts.
        await AdminInDatabaseAsync(database, $"INSERT INTO meter_state VALUES ('m1', 1, 1, 11, {t0.ToUnixTimeMilliseconds()})");

        var second = await OpenStoreAsync(database);
        await second.AppendAsync(Meter("s01", "r1", "m1", 2, t0.AddMinutes(10), 12));
        Assert.Equal(1.0, await RoomEnergyAsync(second, "r1"), 9);
        Assert.Equal(0L, await MeterRowsAsync(database));
    }

    [Fact]
    public async Task A_purge_that_keeps_more_readings_than_a_chunk_goes_on_until_every_other_old_row_is_gone()
    {
        var (store, database) = await NewSchoolStoreAsync(o =>
        {
            o.Retention.Telemetry = TimeSpan.FromDays(90);
            o.Retention.ChunkSize = 2;
        });
        var old = Epoch.AddDays(-100);
        for (var m = 0; m < 5; m++)
        {
            await store.AppendAsync(Meter("s01", "r1", "m" + m, 1, old.AddMinutes(m), 10));
            await store.AppendAsync(Meter("s01", "r1", "m" + m, 2, old.AddMinutes(m + 10), 11));
        }
        for (var i = 0; i < 3; i++)
        {
            await store.AppendAsync(Meter("s01", "r1", "n1", (uint)(i + 1), old.AddMinutes(i), null, powerW: 5));
        }

        Assert.Equal(8, (await store.PurgeAsync()).Telemetry);
        Assert.Equal(5L, await ScalarAsync<long>(database, "SELECT COUNT(*) FROM telemetry WHERE seq = 2 AND device LIKE 'm%'"));
        Assert.Equal(5L, await ScalarAsync<long>(database, "SELECT COUNT(*) FROM telemetry"));
        Assert.Equal(0, (await store.PurgeAsync()).Telemetry);
    }

    [Fact]
    public async Task The_audit_log_refuses_updates()
    {
        var (store, database) = await NewStoreAsync();
        await store.AppendAuditAsync(new AuditEntry { SchoolId = "s01", Actor = "admin", Action = "unlock", Target = "d1", At = Epoch });
        var ex = await Assert.ThrowsAsync<PostgresException>(() => ScalarAsync<object>(database, "UPDATE audit_log SET actor = 'someone-else' RETURNING 1"));
        Assert.Contains("append-only", ex.MessageText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_batch_the_server_refuses_fails_its_appenders_and_the_next_batch_commits()
    {
        var (store, database) = await NewStoreAsync();
        var t0 = Epoch.AddHours(1);
        // PostgreSQL text cannot hold a NUL character: the server refuses the batch (in an INSERT or a COPY).
        var refused = Meter("s01", "r1", "m1", 1, t0, 10) with { ReadingsJson = "{\"note\":\"a\u0000b\"}" };
        var ex = await Assert.ThrowsAsync<StorageUnavailableException>(() => store.AppendAsync(refused).AsTask());
        Assert.Equal(PostgresErrorCodes.CharacterNotInRepertoire, Assert.IsType<PostgresException>(ex.InnerException).SqlState);
        Assert.Equal(AppendResult.Inserted, await store.AppendAsync(Meter("s01", "r1", "m1", 2, t0.AddMinutes(1), 11)));
        Assert.True(store.Health.IsHealthy);
        Assert.Equal(1L, await ScalarAsync<long>(database, "SELECT COUNT(*) FROM telemetry"));
    }

    [Fact]
    public async Task A_killed_writer_connection_fails_one_batch_and_the_next_one_commits()
    {
        var (store, database) = await NewStoreAsync();
        var t0 = Epoch.AddHours(1);
        await store.AppendAsync(Meter("s01", "r1", "m1", 1, t0, 10));
        var name = new NpgsqlConnectionStringBuilder(database).Database!;
        await AdminAsync(database, $"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()");
        await Assert.ThrowsAsync<StorageUnavailableException>(() => store.AppendAsync(Meter("s01", "r1", "m1", 2, t0.AddMinutes(1), 11)).AsTask());
        Assert.False(store.Health.IsHealthy);
        Assert.Equal(AppendResult.Inserted, await store.AppendAsync(Meter("s01", "r1", "m1", 2, t0.AddMinutes(1), 11)));
        Assert.True(store.Health.IsHealthy);
        Assert.Equal(2L, await ScalarAsync<long>(database, "SELECT COUNT(*) FROM telemetry"));
    }

    [Fact]
    public async Task Two_writers_commit_side_by_side_unless_the_options_say_otherwise()
    {
        var (store, _) = await NewStoreAsync();
        Assert.Equal(2, Assert.IsType<PostgresHistoryStore>(store).WriterLoops);
        var (single, _) = await NewStoreAsync(o => o.Writers = 1);
        Assert.Equal(1, Assert.IsType<PostgresHistoryStore>(single).WriterLoops);
    }

    [Fact]
    public async Task Parallel_writers_store_every_row_and_count_energy_once()
    {
        var (store, _) = await NewStoreAsync(o => o.Writers = 3);
        var t0 = Epoch.AddHours(5);
        const int devices = 24, readings = 40;
        await Task.WhenAll(Enumerable.Range(0, devices).Select(d => Task.Run(async () =>
        {
            for (var i = 0; i < readings; i++)
            {
                // Every reading twice, as a broker redelivering: the copy must not count.
                var r = Meter("s0" + (d % 2), "r" + (d % 3), "m" + d, (uint)(i + 1), t0.AddSeconds(i), i * 0.5, powerW: 10 * i);
                await store.AppendAsync(r);
                Assert.Equal(AppendResult.Duplicate, await store.AppendAsync(r));
            }
        })));
        var s0 = (await store.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.School("s00"), EnergyGranularity.Hour, new(2026, 11, 25), new(2026, 11, 25)))).Points;
        var s1 = (await store.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.School("s01"), EnergyGranularity.Hour, new(2026, 11, 25), new(2026, 11, 25)))).Points;
        Assert.Equal(devices / 2 * (readings - 1) * 0.5, Assert.Single(s0).EnergyKwh, 6);
        Assert.Equal(devices / 2 * readings, s1.Single().Samples);
        Assert.Equal(10.0 * (readings - 1), s1.Single().PeakPowerW);
    }
}

/// <summary>
/// The same contract and PostgreSQL tests with every batch's telemetry stored by COPY (by default only
/// batches of 64 new rows or more are), so duplicates, restarts and outages run through that path too.
/// </summary>
public sealed class PostgresCopyHistoryStoreTests : PostgresHistoryStoreTests
{
    private protected override HistoryOptions NewOptions(string database)
    {
        var options = base.NewOptions(database);
        options.PostgresCopyMinRows = 1;
        return options;
    }

    [Fact]
    public async Task A_copy_that_meets_a_stored_row_is_inserted_instead_and_counts_its_energy_once()
    {
        var (store, database) = await NewStoreAsync();
        var postgres = Assert.IsType<PostgresHistoryStore>(store);
        await store.UpsertSchoolAsync(AllDayOpen("s01", "UTC"));
        var t0 = Epoch.AddHours(10);
        Assert.Equal(AppendResult.Inserted, await store.AppendAsync(Meter("s01", "r101", "m1", 1, t0, 10)));
        Assert.Equal(AppendResult.Inserted, await store.AppendAsync(Meter("s01", "r101", "m1", 2, t0.AddMinutes(10), 12)));
        Assert.Equal(0, postgres.CopyFallbackCount);

        // A redelivery: its COPY fails on the stored key, the batch is inserted and found a duplicate.
        Assert.Equal(AppendResult.Duplicate, await store.AppendAsync(Meter("s01", "r101", "m1", 2, t0.AddMinutes(10), 12)));
        Assert.Equal(1, postgres.CopyFallbackCount);
        // For the next minute the writer inserts without trying COPY.
        Assert.Equal(AppendResult.Duplicate, await store.AppendAsync(Meter("s01", "r101", "m1", 1, t0, 10)));
        Assert.Equal(AppendResult.Inserted, await store.AppendAsync(Meter("s01", "r101", "m1", 3, t0.AddMinutes(20), 13)));
        Assert.Equal(1, postgres.CopyFallbackCount);
        // Then it copies again.
        Time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(AppendResult.Inserted, await store.AppendAsync(Meter("s01", "r101", "m1", 4, t0.AddMinutes(30), 15)));
        Assert.Equal(AppendResult.Duplicate, await store.AppendAsync(Meter("s01", "r101", "m1", 3, t0.AddMinutes(20), 13)));
        Assert.Equal(2, postgres.CopyFallbackCount);

        Assert.Equal(4L, await ScalarAsync<long>(database, "SELECT COUNT(*) FROM telemetry"));
        var day = await store.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.School("s01"), EnergyGranularity.Day, new(2026, 11, 25), new(2026, 11, 25)));
        Assert.Equal(5.0, Assert.Single(day.Points).EnergyKwh, 9);
        Assert.Equal(4, Assert.Single(day.Points).Samples);
    }
}
