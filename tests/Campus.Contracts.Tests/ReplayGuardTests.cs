using System.Text.Json;

namespace Campus.Contracts.Tests;

public sealed class ReplayGuardTests
{
    private static readonly byte[] Key = Convert.FromBase64String("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");

    private static byte[] Event(uint boot, uint seq, string card = "04A1B2C3") =>
        EventSigner.Sign("d1", Key, PayloadWriter.Write(new AccessRequestEvent { Boot = boot, Seq = seq, Ts = 1000 + seq, Req = $"r{seq}", Card = card }));

    [Fact]
    public void Events_in_order_are_accepted_and_an_exact_redelivery_is_a_duplicate()
    {
        var guard = new ReplayGuard();
        var e1 = Event(3, 1);
        var e2 = Event(3, 2);
        var e5 = Event(3, 5);
        Assert.Equal(ReplayVerdict.Accepted, guard.Check(3, 1, e1));
        Assert.Equal(ReplayVerdict.Accepted, guard.Check(3, 2, e2));
        Assert.Equal(ReplayVerdict.Accepted, guard.Check(3, 5, e5)); // a gap is not a replay
        Assert.Equal(ReplayVerdict.Duplicate, guard.Check(3, 5, e5));
        Assert.Equal(ReplayVerdict.Duplicate, guard.Check(3, 1, (byte[])e1.Clone()));
        Assert.Equal((3u, 5u), (guard.LastBoot, guard.LastSeq));
    }

    [Fact]
    public void An_older_or_equal_sequence_with_other_bytes_is_a_replay()
    {
        var guard = new ReplayGuard();
        guard.Check(3, 1, Event(3, 1));
        guard.Check(3, 2, Event(3, 2));
        Assert.Equal(ReplayVerdict.Replay, guard.Check(3, 1, Event(3, 1, card: "04A1B2C4")));
        Assert.Equal(ReplayVerdict.Replay, guard.Check(3, 2, Event(3, 2, card: "04A1B2C4")));
        Assert.Equal(ReplayVerdict.Replay, guard.Check(2, 900, Event(2, 900)));
        Assert.Equal((3u, 2u), (guard.LastBoot, guard.LastSeq));
    }

    [Fact]
    public void A_new_boot_starts_a_new_epoch_and_old_boot_redeliveries_stay_duplicates()
    {
        var guard = new ReplayGuard();
        var old = Event(3, 500);
        guard.Check(3, 500, old);
        Assert.Equal(ReplayVerdict.Accepted, guard.Check(4, 1, Event(4, 1)));
        Assert.Equal(ReplayVerdict.Accepted, guard.Check(4, 2, Event(4, 2)));
        Assert.Equal(ReplayVerdict.Duplicate, guard.Check(3, 500, old));
        Assert.Equal(ReplayVerdict.Replay, guard.Check(3, 501, Event(3, 501)));
    }

    [Fact]
    public void Only_the_most_recent_payloads_count_as_duplicates()
    {
        var guard = new ReplayGuard(recentCount: 4);
        var events = Enumerable.Range(1, 6).Select(i => Event(1, (uint)i)).ToArray();
        for (var i = 0; i < events.Length; i++)
        {
            Assert.Equal(ReplayVerdict.Accepted, guard.Check(1, (uint)(i + 1), events[i]));
        }
        Assert.Equal(ReplayVerdict.Replay, guard.Check(1, 2, events[1]));   // evicted
        Assert.Equal(ReplayVerdict.Duplicate, guard.Check(1, 3, events[2])); // among the last 4
    }

    [Fact]
    public void State_saved_as_json_and_restored_gives_the_same_verdicts()
    {
        var guard = new ReplayGuard(recentCount: 8);
        var events = Enumerable.Range(1, 12).Select(i => Event(7, (uint)i)).ToArray();
        for (var i = 0; i < events.Length; i++)
        {
            guard.Check(7, (uint)(i + 1), events[i]);
        }
        var state = guard.GetState();
        Assert.Equal((7u, 12u, 8), (state.LastBoot, state.LastSeq, state.RecentHashes.Count));

        var json = JsonSerializer.Serialize(state, ContractsJsonContext.Default.ReplayGuardState);
        var restored = new ReplayGuard(JsonSerializer.Deserialize(json, ContractsJsonContext.Default.ReplayGuardState)!, recentCount: 8);
        Assert.Equal((7u, 12u), (restored.LastBoot, restored.LastSeq));
        for (var i = 0; i < events.Length; i++)
        {
            Assert.Equal(guard.Check(7, (uint)(i + 1), events[i]), restored.Check(7, (uint)(i + 1), events[i]));
        }
        Assert.Equal(ReplayVerdict.Duplicate, restored.Check(7, 12, events[11]));
        Assert.Equal(ReplayVerdict.Replay, restored.Check(7, 1, events[0]));
        Assert.Equal(ReplayVerdict.Accepted, restored.Check(7, 13, Event(7, 13)));

        // Restoring into a smaller guard keeps the newest hashes.
        var small = new ReplayGuard(state, recentCount: 2);
        Assert.Equal(ReplayVerdict.Duplicate, small.Check(7, 12, events[11]));
        Assert.Equal(ReplayVerdict.Replay, small.Check(7, 10, events[9]));
        Assert.Equal(state.RecentHashes.Skip(6), small.GetState().RecentHashes);
    }

    [Fact]
    public void A_fresh_guard_accepts_the_first_message_and_rejects_corrupt_state()
    {
        Assert.Equal(ReplayVerdict.Accepted, new ReplayGuard().Check(0, 1, "x"u8));
        Assert.Equal(ReplayVerdict.Replay, new ReplayGuard().Check(0, 0, "x"u8));
        Assert.Throws<ArgumentException>(() => new ReplayGuard(new ReplayGuardState { RecentHashes = [new byte[5]] }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReplayGuard(0));
        Assert.Empty(new ReplayGuard().GetState().RecentHashes);
    }
}
