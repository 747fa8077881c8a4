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

    [Fact]
    public void A_taken_back_message_is_accepted_once_when_its_resend_comes_after_newer_ones()
    {
        var guard = new ReplayGuard();
        guard.Check(3, 1, Event(3, 1));
        var before = guard.GetState();
        var e2 = Event(3, 2);
        Assert.Equal(ReplayVerdict.Accepted, guard.Check(3, 2, e2));

        // Not applied (storage down): back to the state before it, remembering it as taken back.
        guard = new ReplayGuard(before);
        guard.TakeBack(3, 2, e2);
        Assert.Equal(1, guard.TakenBackWaiting);
        Assert.Equal(ReplayVerdict.Accepted, guard.Check(3, 3, Event(3, 3)));
        Assert.Equal(ReplayVerdict.Accepted, guard.Check(3, 2, (byte[])e2.Clone()));   // the late re-send
        Assert.Equal(ReplayVerdict.Duplicate, guard.Check(3, 2, e2));                  // and only once
        Assert.Equal((3u, 3u, 0), (guard.LastBoot, guard.LastSeq, guard.TakenBackWaiting));
    }

    [Fact]
    public void Only_the_byte_identical_resend_of_a_taken_back_message_is_let_in_below_the_last_sequence()
    {
        var guard = new ReplayGuard();
        var e1 = Event(3, 1);
        var e2 = Event(3, 2);
        guard.Check(3, 1, e1);
        guard.TakeBack(3, 2, e2);
        guard.Check(3, 5, Event(3, 5));   // 3 and 4 never arrived

        Assert.Equal(ReplayVerdict.Replay, guard.Check(3, 2, Event(3, 2, card: "04A1B2C4")));   // other bytes for the taken-back seq
        Assert.Equal(ReplayVerdict.Replay, guard.Check(3, 3, Event(3, 3)));                     // never taken back
        Assert.Equal(ReplayVerdict.Replay, guard.Check(3, 1, Event(3, 1, card: "04A1B2C4")));   // an old accepted seq
        Assert.Equal(ReplayVerdict.Duplicate, guard.Check(3, 1, e1));
        Assert.Equal(ReplayVerdict.Accepted, guard.Check(3, 2, e2));
        Assert.Equal(ReplayVerdict.Duplicate, guard.Check(3, 2, e2));
    }

    [Fact]
    public void A_taken_back_message_whose_resend_comes_first_is_accepted_in_order_and_never_again()
    {
        var guard = new ReplayGuard();
        var e1 = Event(3, 1);
        guard.TakeBack(3, 1, e1);                                     // on the state before e1: nothing accepted yet
        Assert.Equal(ReplayVerdict.Accepted, guard.Check(3, 1, e1));  // in order
        Assert.Equal(0, guard.TakenBackWaiting);
        Assert.Equal(ReplayVerdict.Accepted, guard.Check(3, 2, Event(3, 2)));
        Assert.Equal(ReplayVerdict.Duplicate, guard.Check(3, 1, e1));

        // Taken back on the guard that accepted it (not restored): its re-send is still let in once.
        var e3 = Event(3, 3);
        Assert.Equal(ReplayVerdict.Accepted, guard.Check(3, 3, e3));
        guard.TakeBack(3, 3, e3);
        Assert.Equal(ReplayVerdict.Accepted, guard.Check(3, 3, e3));
        Assert.Equal(ReplayVerdict.Duplicate, guard.Check(3, 3, e3));
    }

    [Fact]
    public void Taken_back_messages_survive_a_json_round_trip_and_only_the_newest_are_kept()
    {
        var guard = new ReplayGuard();
        var count = ReplayGuard.TakenBackCount + 8;
        var events = Enumerable.Range(1, count).Select(i => Event(5, (uint)i)).ToArray();
        for (var i = 0; i < count; i++)
        {
            guard.TakeBack(5, (uint)(i + 1), events[i]);
        }
        guard.Check(5, (uint)count + 1, Event(5, (uint)count + 1));
        var state = guard.GetState();
        Assert.Equal(ReplayGuard.TakenBackCount, state.TakenBack.Count);
        Assert.Equal(9u, state.TakenBack[0].Seq);

        var json = JsonSerializer.Serialize(state, ContractsJsonContext.Default.ReplayGuardState);
        var restored = new ReplayGuard(JsonSerializer.Deserialize(json, ContractsJsonContext.Default.ReplayGuardState)!);
        Assert.Equal(ReplayGuard.TakenBackCount, restored.TakenBackWaiting);
        Assert.Equal(ReplayVerdict.Replay, restored.Check(5, 8, events[7]));     // forgotten: the oldest
        for (var i = 8; i < count; i++)
        {
            Assert.Equal(ReplayVerdict.Accepted, restored.Check(5, (uint)(i + 1), events[i]));
        }
        Assert.Equal(0, restored.TakenBackWaiting);
        Assert.Empty(restored.GetState().TakenBack);

        // State written before taken-back messages existed reads as none.
        var old = JsonSerializer.Deserialize("""{"lastBoot":5,"lastSeq":2,"recentHashes":[]}""", ContractsJsonContext.Default.ReplayGuardState)!;
        Assert.Equal(0, new ReplayGuard(old).TakenBackWaiting);
        Assert.Throws<ArgumentException>(() => new ReplayGuard(new ReplayGuardState { TakenBack = [new TakenBackMessage { Boot = 1, Seq = 1, Hash = new byte[5] }] }));
    }
}
