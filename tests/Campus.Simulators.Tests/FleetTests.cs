using System.Text.Json;
using Campus.Simulators.Day;
using Campus.Testing;

namespace Campus.Simulators.Tests;

[CollectionDefinition("fleet", DisableParallelization = true)]
public sealed class FleetCollection;

/// <summary>The small district with the real firmware on every device, against real brokers.</summary>
[Collection("fleet")]
public sealed partial class FleetTests
{
    private static SimulationOptions Options(int port, int seed = 3, TimeSpan? duration = null) => new()
    {
        BrokerPort = port,
        Speed = 0,
        Seed = seed,
        StandInController = true,
        Step = TimeSpan.FromSeconds(1),
        StartUtc = DayModel.Utc(Districts.Small.Schools[0], Districts.Small.Date.ToDateTime(new TimeOnly(7, 50))),
        Duration = duration ?? TimeSpan.FromMinutes(12),
    };

    private static async Task<IReadOnlyList<Seen>> RunAsync(int port, SimulationOptions options)
    {
        await using var recorder = await Recorder.StartAsync("127.0.0.1", port);
        await using (var simulation = await DistrictSimulation.StartAsync(Districts.Small, options))
        {
            await simulation.Completion.WaitAsync(TimeSpan.FromMinutes(2));
            Assert.True(simulation.Stats.TapsMissed == 0, "no card tap was missed; " + string.Join("; ", simulation.Diagnostics()));
            Console.WriteLine("diagnostics: " + string.Join("; ", simulation.Diagnostics()) + $" late={simulation.Stats.LateSteps}");
        }

        Console.WriteLine("counts: " + string.Join(", ", recorder.Messages.GroupBy(m => m.Device + "/" + m.Stream).Select(g => $"{g.Key}={g.Count()}")));
        int count = recorder.Messages.Count;
        await Poll.UntilAsync(() => recorder.Messages.Count == count || (count = recorder.Messages.Count) < 0, "the last messages arrived", TimeSpan.FromSeconds(5));
        return recorder.Messages;
    }

    private static void AssertDistrictWorked(IReadOnlyList<Seen> seen)
    {
        var district = Districts.Small;
        foreach (var device in district.Devices)
        {
            Assert.True(seen.Any(m => m.Device == device.Id && m.Stream == "status" && m.Json.GetProperty("state").GetString() == "online"), $"{device.Id} reported online");
        }

        foreach (var meter in district.Devices.Where(d => d.Kind == "energy"))
        {
            var telemetry = seen.Where(m => m.Device == meter.Id && m.Stream == "telemetry").Select(m => m.Json).ToList();
            Assert.True(telemetry.Count >= 3, $"{meter.Id} sent telemetry ({telemetry.Count})");
            Assert.All(telemetry, t => Assert.True(t.GetProperty("powerW").GetDouble() > 0));
            Assert.True(telemetry[^1].GetProperty("energyKwh").GetDouble() > 0, $"{meter.Id} counts energy");
        }

        // Lesson 1 at 08:00: the teacher and students of 7A tap at r101's door at 07:56; no controller
        // answers, so the door decides from the allow-list it was given.
        var access = seen.Where(m => m.Device == "s01-r101-door" && m.Stream == "event" && m.Json.GetProperty("type").GetString() == "access").Select(m => m.Json).ToList();
        Assert.NotEmpty(access);
        Assert.All(access, a =>
        {
            Assert.Equal("granted", a.GetProperty("result").GetString());
            Assert.Equal("cache", a.GetProperty("source").GetString());
        });
        Assert.True(seen.Any(m => m.Device == "s01-r101-door" && m.Stream == "event" && m.Payload.Contains("\"type\":\"door\",\"state\":\"open\"", StringComparison.Ordinal)), "the teacher walked in after the grant");
        Assert.True(seen.Any(m => m.Device == "s01-mk1-kit01" && m.Stream == "telemetry" && m.Json.GetProperty("readings").TryGetProperty("soil", out _)), "the maker kit sends readings");
        Assert.True(seen.Any(m => m.Device == "s01-r101-sign" && m.Stream == "cmd/timetable/ack" && m.Json.GetProperty("ok").GetBoolean()), "the class sign acknowledged its timetable");
    }

    [Fact]
    public async Task Small_district_runs_with_firmware_in_the_loop_against_the_embedded_broker()
    {
        await using var broker = await Districts.EmbeddedBrokerAsync();
        AssertDistrictWorked(await RunAsync(broker.Port, Options(broker.Port)));
    }

    [Fact]
    public async Task Small_district_runs_with_firmware_in_the_loop_against_mosquitto()
    {
        await using var mosquitto = await MosquittoServer.StartAsync(new MosquittoOptions { Persistence = false });
        AssertDistrictWorked(await RunAsync(mosquitto.Port, Options(mosquitto.Port)));
    }

    [Fact]
    public async Task Same_seed_gives_the_same_run()
    {
        await using var broker = await Districts.EmbeddedBrokerAsync();
        var options = Options(broker.Port, seed: 9, TimeSpan.FromMinutes(8));
        long start = new DateTimeOffset(options.StartUtc!.Value).ToUnixTimeMilliseconds();
        var first = Normalize(await RunAsync(broker.Port, options), start);
        await using var broker2 = await Districts.EmbeddedBrokerAsync();
        var second = Normalize(await RunAsync(broker2.Port, options with { BrokerPort = broker2.Port }), start);
        Assert.True(first.Sum(d => d.Value.Count) > 50, "the run produced messages");
        Assert.Equal(first.Keys.Order(), second.Keys.Order());
        foreach (var (device, messages) in first)
        {
            Assert.Equal(messages, second[device]);
        }
    }

    /// <summary>
    /// Per device: telemetry and events from the start instant on, in simulated-time order. Boot (before
    /// the start) and statuses carry connect-time values and are left out; sequence numbers are left out
    /// (with a door's signature over them) because a status taken at connect shifts them. Messages of one device at one simulated instant
    /// (from different firmware threads) are ordered by their text: a device gives them no order either.
    /// </summary>
    private static Dictionary<string, List<string>> Normalize(IReadOnlyList<Seen> seen, long startMs) =>
        seen.Where(m => m.Stream is "telemetry" or "event" && m.Json.GetProperty("ts").GetInt64() >= startMs)
            .GroupBy(m => m.Device)
            .ToDictionary(g => g.Key, g => g.Select(m => (Seq: m.Json.GetProperty("seq").GetInt64(), Ts: m.Json.GetProperty("ts").GetInt64(), m.Payload)).Distinct()
                .Select(x => (x.Ts, Text: SignatureMember().Replace(SeqMember().Replace(x.Payload, ""), ""))).OrderBy(x => x.Ts).ThenBy(x => x.Text, StringComparer.Ordinal)
                .Select(x => x.Text).ToList());

    // Statuses and telemetry of the connect moment race for the first sequence numbers; the rest is the run.
    [System.Text.RegularExpressions.GeneratedRegex("\"seq\":[0-9]+,")]
    private static partial System.Text.RegularExpressions.Regex SeqMember();

    // A door's signature covers the sequence number.
    [System.Text.RegularExpressions.GeneratedRegex(",\"sig\":\"[^\"]*\"")]
    private static partial System.Text.RegularExpressions.Regex SignatureMember();
}
