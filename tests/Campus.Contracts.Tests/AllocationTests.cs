using System.Text;
using System.Text.Json;

namespace Campus.Contracts.Tests;

/// <summary>Allocation budgets of the hot paths (bytes, measured on the test thread; no timing).</summary>
public sealed class AllocationTests
{
    private static readonly byte[] Telemetry = Encoding.UTF8.GetBytes(DocExamples.Telemetry);
    private static readonly byte[] Key = new byte[32];

    private static double BytesPerCall(Action action, int calls = 2000)
    {
        for (var i = 0; i < 200; i++)
        {
            action();
        }
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < calls; i++)
        {
            action();
        }
        return (GC.GetAllocatedBytesForCurrentThread() - before) / (double)calls;
    }

    [Fact]
    public void Validating_a_payload_allocates_no_more_than_deserializing_it_without_checks()
    {
        var baseline = BytesPerCall(() => JsonSerializer.Deserialize(Telemetry, ContractsJsonContext.Default.Telemetry));
        var validated = BytesPerCall(() => PayloadReader.ReadTelemetry(Telemetry));
        Assert.True(validated <= baseline + 8, $"validated read {validated:F0} B/call, plain deserialize {baseline:F0} B/call");
    }

    [Fact]
    public void Verifying_a_signature_and_checking_replay_allocate_nothing()
    {
        var signed = EventSigner.Sign("d1", Key, Encoding.UTF8.GetBytes("""{"v":1,"boot":3,"seq":57,"ts":0,"type":"rex"}"""));
        Assert.True(BytesPerCall(() => EventSigner.Verify("d1", Key, signed)) < 1, "Verify allocates");
        var guard = new ReplayGuard();
        uint seq = 0;
        Assert.True(BytesPerCall(() => guard.Check(1, ++seq, signed)) < 1, "ReplayGuard.Check allocates");

        // With messages taken back and waiting for their re-send, checking stays allocation-free.
        var waiting = new ReplayGuard();
        for (uint i = 1; i <= ReplayGuard.TakenBackCount; i++) waiting.TakeBack(1, i, signed);
        seq = ReplayGuard.TakenBackCount;
        Assert.True(BytesPerCall(() => waiting.Check(1, ++seq, signed)) < 1, "ReplayGuard.Check with taken-back messages allocates");
        Assert.Equal(ReplayGuard.TakenBackCount, waiting.TakenBackWaiting);
    }

    [Fact]
    public void Parsing_a_topic_allocates_only_its_segment_strings()
    {
        var topic = "campus/v1/s01/r101/energy/m1/telemetry"u8.ToArray();
        var rejected = "campus/v1/s01/r101/energy/M1/telemetry"u8.ToArray();
        Assert.True(BytesPerCall(() => DeviceTopic.TryParse(topic, out _, out _)) <= 3 * 32, "more than three small strings per parse");
        Assert.True(BytesPerCall(() => DeviceTopic.TryParse(rejected, out _, out _)) < 1, "a rejected topic allocates");
    }
}
