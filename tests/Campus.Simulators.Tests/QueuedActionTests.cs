using System.Collections.Concurrent;
using Campus.Simulators.Scenarios;
using Campus.Testing;

namespace Campus.Simulators.Tests;

/// <summary>
/// Scenario actions queued on a running simulation from other threads: applied on the simulation's
/// own thread between steps, in queue order, in the caller's school; whole scenarios keep their
/// script's intervals.
/// </summary>
[Collection("fleet")]
public sealed class QueuedActionTests
{
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(1);

    private static Task<DistrictSimulation> StartAsync(int port, bool switchable = false) =>
        DistrictSimulation.StartAsync(Districts.Small, new SimulationOptions
        {
            BrokerPort = port,
            Speed = 0,
            Seed = 5,
            StandInController = true,
            Step = Step,
            StartUtc = new DateTime(2026, 11, 26, 2, 0, 0, DateTimeKind.Utc), // 10:00 at the school (Asia/Shanghai)
            SwitchableNetwork = switchable,
        });

    [Fact]
    public async Task Actions_queued_from_other_threads_are_applied_on_the_simulation_thread_between_steps_in_queue_order()
    {
        await using var broker = await Districts.EmbeddedBrokerAsync();
        await using var simulation = await StartAsync(broker.Port);
        var applied = new ConcurrentQueue<(string Caller, int Index, string? Thread, DateTime Before, DateTime After)>();

        // Two threads queue ten actions each at once, all due at the same future instant.
        var due = simulation.SimulatedUtc + TimeSpan.FromSeconds(30);
        var tasks = new ConcurrentBag<(string Caller, int Index, Task<DateTime> Done)>();
        var threads = new[] { "a", "b" }.Select(caller => new Thread(() =>
        {
            for (int i = 0; i < 10; i++)
            {
                int index = i;
                tasks.Add((caller, index, simulation.Queue("s01", _ =>
                {
                    var before = simulation.SimulatedUtc;
                    Thread.Sleep(2); // the clock must not move while an action runs
                    applied.Enqueue((caller, index, Thread.CurrentThread.Name, before, simulation.SimulatedUtc));
                }, due)));
            }
        })).ToList();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();

        var at = await Task.WhenAll(tasks.Select(t => t.Done)).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(20, applied.Count);
        // All on the simulation's thread, at one step boundary at or right after the due time, with the clock standing still.
        Assert.All(applied, a => Assert.Equal("district-simulation", a.Thread));
        Assert.All(applied, a => Assert.Equal(a.Before, a.After));
        Assert.Single(at.Distinct());
        Assert.InRange(at[0], due, due + Step - TimeSpan.FromTicks(1));
        Assert.All(applied, a => Assert.Equal(at[0], a.Before));
        // Each caller's actions in the order it queued them.
        foreach (var caller in new[] { "a", "b" })
            Assert.Equal(Enumerable.Range(0, 10), applied.Where(a => a.Caller == caller).Select(a => a.Index));
        Assert.Equal(0, simulation.QueuedActions);
    }

    [Fact]
    public async Task A_failing_action_fails_only_its_caller_and_actions_after_it_still_apply_and_a_stopped_simulation_refuses_and_fails_pending_ones()
    {
        await using var broker = await Districts.EmbeddedBrokerAsync();
        var simulation = await StartAsync(broker.Port);
        var order = new ConcurrentQueue<int>();
        var first = simulation.Queue("s01", _ => order.Enqueue(1));
        var failing = simulation.Queue("s01", a => a.PowerOff("no-such-device"));
        var third = simulation.Queue("s01", _ => order.Enqueue(3));
        // The refusal is synchronous: nothing is queued.
        void QueueIn(string school) => _ = simulation.Queue(school, _ => { });
        Assert.Throws<ArgumentException>(() => QueueIn("s99"));

        await third.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(first.IsCompletedSuccessfully);
        var error = await Assert.ThrowsAsync<ArgumentException>(() => failing);
        Assert.Contains("no-such-device", error.Message, StringComparison.Ordinal);
        Assert.Equal([1, 3], order);
        Assert.Contains(simulation.Stats.ScenarioLog, l => l.Contains("queued action failed", StringComparison.Ordinal));

        var never = simulation.Queue("s01", _ => order.Enqueue(4), DateTime.MaxValue);
        await simulation.DisposeAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => never);
        Assert.Throws<InvalidOperationException>(() => QueueIn("s01"));
        Assert.Equal([1, 3], order);
    }

    [Fact]
    public async Task Power_spike_and_room_network_outage_queued_on_a_running_district_cause_their_device_messages()
    {
        await using var broker = await Districts.EmbeddedBrokerAsync();
        await using var recorder = await Recorder.StartAsync("127.0.0.1", broker.Port);
        await using var simulation = await StartAsync(broker.Port, switchable: true);
        var district = simulation.District;

        // Power spike: its one step now; the meter reports more than 9 kW within the 3 minutes.
        var spike = ScenarioCatalog.Plan("power-spike", district);
        var spikeAt = await Assert.Single(simulation.QueueScenario(spike)).WaitAsync(TimeSpan.FromSeconds(60));
        var meter = spike.Expected[0].Device;
        await Poll.UntilAsync(() => recorder.From(meter, "telemetry").Any(m => m.Json.TryGetProperty("powerW", out var p) && p.GetDouble() > 9000),
            $"{meter} reports the 9 kW load", TimeSpan.FromSeconds(60));

        // Room network outage: cut now, restored 5 simulated minutes later; every device of the room drops (will) and comes back.
        var outage = ScenarioCatalog.Plan("room-network-outage", district);
        var steps = simulation.QueueScenario(outage);
        var cutAt = await steps[0].WaitAsync(TimeSpan.FromSeconds(60));
        var restoredAt = await steps[1].WaitAsync(TimeSpan.FromSeconds(90));
        // Each step is due at its offset from the moment of queuing and applied at the next step boundary,
        // so the two land 5 minutes apart give or take one step.
        Assert.InRange(restoredAt - cutAt, TimeSpan.FromMinutes(5) - Step, TimeSpan.FromMinutes(5) + Step);
        Assert.True(cutAt > spikeAt);
        var devices = district.School("s01").Devices.Where(d => d.Room == "r101").Select(d => d.Id).ToList();
        Assert.Equal(4, devices.Count);
        await Poll.UntilAsync(() => devices.All(d =>
        {
            var states = recorder.From(d, "status").Select(m => m.Json.GetProperty("state").GetString()).ToList();
            return states.Contains("offline") && states.LastIndexOf("online") > states.IndexOf("offline");
        }), "every device of r101 went offline (will) and came back online", TimeSpan.FromSeconds(60));
        // Devices of other rooms kept their connection.
        Assert.DoesNotContain(recorder.Messages, m => m.Stream == "status" && !devices.Contains(m.Device) && m.Json.GetProperty("state").GetString() == "offline");
    }
}
