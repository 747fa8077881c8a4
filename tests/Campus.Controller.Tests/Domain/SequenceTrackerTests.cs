using Campus.Controller.Domain;

namespace Campus.Controller.Tests.Domain;

public sealed class SequenceTrackerTests
{
    [Fact]
    public void Consecutive_messages_are_accepted_and_a_redelivery_is_a_duplicate()
    {
        var t = new SequenceTracker();
        Assert.Equal(SequenceVerdict.Accepted, t.Observe(1, 1).Verdict);
        Assert.Equal(SequenceVerdict.Accepted, t.Observe(1, 2).Verdict);
        Assert.Equal(SequenceVerdict.Duplicate, t.Observe(1, 2).Verdict);
        Assert.Equal(SequenceVerdict.Duplicate, t.Observe(1, 1).Verdict);
        Assert.Equal(0, t.TotalMissed);
    }

    [Fact]
    public void A_skipped_range_is_reported_as_a_gap_and_a_late_arrival_is_accepted_once()
    {
        var t = new SequenceTracker();
        t.Observe(4, 10);
        var r = t.Observe(4, 14);
        Assert.Equal(3u, r.Missed);
        Assert.Equal(3, t.TotalMissed);
        Assert.Equal(SequenceVerdict.LateAccepted, t.Observe(4, 12).Verdict);
        Assert.Equal(SequenceVerdict.Duplicate, t.Observe(4, 12).Verdict);
        Assert.Equal(2, t.TotalMissed);
        Assert.Equal([new SeqRange(11, 11), new SeqRange(13, 13)], t.Missing);
    }

    [Fact]
    public void A_higher_boot_starts_a_new_epoch_and_an_older_boot_is_stale()
    {
        var t = new SequenceTracker();
        t.Observe(2, 500);
        var r = t.Observe(3, 1);
        Assert.True(r.NewBoot);
        Assert.Equal(SequenceVerdict.Accepted, r.Verdict);
        Assert.Equal(SequenceVerdict.Accepted, t.Observe(3, 2).Verdict);
        Assert.Equal(SequenceVerdict.StaleBoot, t.Observe(2, 501).Verdict);
    }

    [Fact]
    public void Missing_ranges_are_bounded()
    {
        var t = new SequenceTracker();
        for (uint i = 0; i < 100; i++) t.Observe(1, (i * 2) + 1);
        Assert.Equal(SequenceTracker.MaxMissingRanges, t.Missing.Count);
    }

    [Theory]
    [InlineData(1u, 11u)]      // in order
    [InlineData(1u, 15u)]      // a gap
    [InlineData(1u, 4u)]       // a late reading filling a gap
    [InlineData(1u, 3u)]       // a duplicate
    [InlineData(2u, 5u)]       // a new boot
    [InlineData(1u, 200u)]     // a gap that pushes out the oldest missing range
    public void Restoring_a_mark_takes_back_what_was_observed_after_it(uint boot, uint seq)
    {
        var t = new SequenceTracker();
        for (uint i = 0; i < SequenceTracker.MaxMissingRanges; i++) t.Observe(1, (i * 2) + 1);    // 1, 3, ... with 32 gaps
        t.Observe(1, 100); // LastSeq 100; missing ..., 65..99
        var before = Describe(t);

        var mark = t.Mark();
        var first = t.Observe(boot, seq);
        t.Observe(boot, seq + 1);
        t.Restore(mark);

        Assert.Equal(before, Describe(t));
        Assert.Equal(first, t.Observe(boot, seq));   // the same message seen again is judged as before
    }

    private static string Describe(SequenceTracker t) =>
        $"{t.Boot}/{t.LastSeq}/{t.Started}/{t.TotalMissed}/" + string.Join(",", t.Missing.Select(r => $"{r.From}-{r.To}"));
}
