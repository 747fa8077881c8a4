using System.Text.Json;
using Campus.Simulators.Scenarios;
using Campus.Testing;

namespace Campus.Simulators.Tests;

/// <summary>Each scripted scenario, run on the small district against the embedded broker, causes exactly its device messages.</summary>
[Collection("fleet")]
public sealed class ScenarioTests
{
    public static TheoryData<string> Names => [.. ScenarioCatalog.Names];

    [Theory]
    [MemberData(nameof(Names))]
    public async Task Scenario_emits_exactly_its_scripted_device_messages(string name)
    {
        await using var broker = await Districts.EmbeddedBrokerAsync();
        await using var recorder = await Recorder.StartAsync("127.0.0.1", broker.Port);
        ScenarioPlan plan;
        await using (var simulation = await DistrictSimulation.StartAsync(Districts.Small, new SimulationOptions
        {
            BrokerPort = broker.Port,
            Speed = 0,
            Seed = 4,
            Scenario = name,
            StandInController = true,
            Step = TimeSpan.FromSeconds(1),
        }))
        {
            plan = simulation.Scenario!;
            await simulation.Completion.WaitAsync(TimeSpan.FromMinutes(2));
            Assert.Equal(plan.Steps.Count, simulation.Stats.ScenarioLog.Count(l => !l.StartsWith("boot:", StringComparison.Ordinal)));
        }

        long from = new DateTimeOffset(plan.StartUtc).ToUnixTimeMilliseconds();
        long to = new DateTimeOffset(plan.StartUtc + plan.Duration).ToUnixTimeMilliseconds();
        int settled = -1;
        await Poll.UntilAsync(() => settled == (settled = recorder.Messages.Count), "the last messages arrived", TimeSpan.FromSeconds(10));
        var seen = recorder.Messages;

        // A will has no ts; everything else is taken from the scenario's window.
        static long Ts(JsonElement e) => e.TryGetProperty("ts", out var ts) ? ts.GetInt64() : -1;
        var inWindow = seen.Where(m => !m.Stream.StartsWith("cmd/", StringComparison.Ordinal) && Ts(m.Json) is var t && (t < 0 || (t >= from && t < to))).ToList();
        foreach (var expected in plan.Expected)
        {
            int count = inWindow.Count(m => m.Device == expected.Device && m.Stream == expected.Stream && expected.Match(m.Json));
            Assert.True(count >= expected.MinCount && count <= expected.MaxCount,
                $"{name}: {expected.Device} {expected.Stream} '{expected.Description}' seen {count} times, expected {expected.MinCount}..{expected.MaxCount}");
        }

        if (plan.ExactEvents)
        {
            // Every door event in the window is one the scenario scripted: nothing more, nothing else.
            var doorEvents = inWindow.Where(m => m.Stream == "event" && m.Topic.Contains("/door/", StringComparison.Ordinal)).ToList();
            foreach (var e in doorEvents)
            {
                Assert.True(plan.Expected.Any(x => x.Device == e.Device && x.Stream == "event" && x.Match(e.Json)), $"{name}: unexpected door event {e.Payload}");
            }

            Assert.Equal(plan.Expected.Sum(x => x.MinCount), doorEvents.Count);
        }

        if (name == "power-spike")
        {
            // Only the scripted room shows the spike.
            Assert.DoesNotContain(inWindow, m => m.Stream == "telemetry" && m.Device != plan.Expected[0].Device && m.Json.TryGetProperty("powerW", out var p) && p.GetDouble() > 9000);
        }

        if (name == "meter-failure")
        {
            // The meter reported power before the failure, and no other meter lost its readings.
            Assert.Contains(inWindow, m => m.Device == plan.Expected[0].Device && m.Stream == "telemetry" && m.Json.TryGetProperty("powerW", out _));
            Assert.DoesNotContain(inWindow, m => m.Device != plan.Expected[0].Device && m.Topic.Contains("/energy/", StringComparison.Ordinal) && m.Stream == "telemetry" && !m.Json.TryGetProperty("powerW", out _));
        }

        if (name == "room-network-outage")
        {
            // Queued while offline, delivered afterwards, with no gap in the sequence numbers.
            foreach (var device in plan.Expected.Select(x => x.Device).Distinct())
            {
                var seqs = seen.Where(m => m.Device == device && !m.Stream.StartsWith("cmd/", StringComparison.Ordinal) || (m.Device == device && m.Stream.EndsWith("/ack", StringComparison.Ordinal)))
                    .Select(m => m.Json).Where(j => j.TryGetProperty("seq", out _) && j.GetProperty("boot").GetInt64() == 1).Select(j => j.GetProperty("seq").GetInt64()).Distinct().Order().ToList();
                Assert.Equal(Enumerable.Range(1, seqs.Count).Select(i => (long)i), seqs);
            }
        }
    }
}
