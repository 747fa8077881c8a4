namespace Campus.Controller.Domain;

/// <summary>What the sequence tracker made of one (boot, seq).</summary>
public enum SequenceVerdict
{
    /// <summary>The next expected message, or a later one (a gap is reported separately).</summary>
    Accepted,

    /// <summary>A message that was missing earlier and arrived late; it is accepted.</summary>
    LateAccepted,

    /// <summary>A copy of a message already seen (QoS 1 redelivery); drop it.</summary>
    Duplicate,

    /// <summary>A message from an older boot than the current one; drop it.</summary>
    StaleBoot,
}

/// <summary>The result of one <see cref="SequenceTracker.Observe"/> call.</summary>
public readonly record struct SequenceResult(SequenceVerdict Verdict, uint Missed, bool NewBoot)
{
    public bool IsNew => Verdict is SequenceVerdict.Accepted or SequenceVerdict.LateAccepted;
}

/// <summary>
/// Per-device de-duplication and gap detection by (boot, seq). Within one boot, a seq above
/// the last one is new (the numbers skipped are remembered as missing, in a bounded list of
/// ranges, so a late arrival is still accepted once); a seq at or below it that is not
/// missing is a duplicate. A higher boot starts a new epoch; a lower boot is stale.
/// The state is plain data so a grain can persist it.
/// </summary>
public sealed class SequenceTracker
{
    /// <summary>At most this many missing ranges are remembered; older ones are forgotten.</summary>
    public const int MaxMissingRanges = 32;

    public uint Boot { get; set; }
    public uint LastSeq { get; set; }
    public bool Started { get; set; }

    /// <summary>Missing ranges [From, To] inclusive, oldest first.</summary>
    public List<SeqRange> Missing { get; set; } = [];

    /// <summary>Messages lost for good (gaps not filled, summed over all boots).</summary>
    public long TotalMissed { get; set; }

    /// <summary>Where the tracker is now: <see cref="Restore"/> takes back every observation made after it.</summary>
    public SequenceMark Mark() => new(Boot, LastSeq, Started, TotalMissed, Missing);

    /// <summary>Takes back the observations made since <paramref name="mark"/> (a message that could not be stored is not seen).</summary>
    public void Restore(SequenceMark mark)
    {
        (Boot, LastSeq, Started, TotalMissed) = (mark.Boot, mark.LastSeq, mark.Started, mark.TotalMissed);
        Missing = mark.Missing;
    }

    public SequenceResult Observe(uint boot, uint seq)
    {
        // Missing is replaced, never changed in place, so that a mark keeps the list it saw.
        if (!Started || boot > Boot)
        {
            var first = !Started;
            Started = true;
            Boot = boot;
            LastSeq = seq;
            Missing = [];
            // A new boot starts at seq 1; anything before the first seen seq is lost.
            var missedAtStart = seq > 1 ? seq - 1 : 0;
            if (!first && missedAtStart > 0)
            {
                AddMissing(1, seq - 1);
                TotalMissed += missedAtStart;
            }
            return new SequenceResult(SequenceVerdict.Accepted, first ? 0 : missedAtStart, NewBoot: !first);
        }
        if (boot < Boot) return new SequenceResult(SequenceVerdict.StaleBoot, 0, false);

        if (seq > LastSeq)
        {
            var missed = seq - LastSeq - 1;
            if (missed > 0)
            {
                AddMissing(LastSeq + 1, seq - 1);
                TotalMissed += missed;
            }
            LastSeq = seq;
            return new SequenceResult(SequenceVerdict.Accepted, missed, false);
        }

        for (var i = 0; i < Missing.Count; i++)
        {
            var r = Missing[i];
            if (seq < r.From || seq > r.To) continue;
            var missing = new List<SeqRange>(Missing);
            missing.RemoveAt(i);
            if (seq > r.From) missing.Insert(i++, new SeqRange(r.From, seq - 1));
            if (seq < r.To) missing.Insert(i, new SeqRange(seq + 1, r.To));
            Missing = missing;
            TotalMissed--;
            return new SequenceResult(SequenceVerdict.LateAccepted, 0, false);
        }
        return new SequenceResult(SequenceVerdict.Duplicate, 0, false);
    }

    private void AddMissing(uint from, uint to)
    {
        var missing = new List<SeqRange>(Missing.Count + 1);
        for (var i = Missing.Count >= MaxMissingRanges ? 1 : 0; i < Missing.Count; i++) missing.Add(Missing[i]);
        missing.Add(new SeqRange(from, to));
        Missing = missing;
    }
}

/// <summary>An inclusive range of sequence numbers.</summary>
public readonly record struct SeqRange(uint From, uint To);

/// <summary>A tracker's position, from <see cref="SequenceTracker.Mark"/>.</summary>
public readonly record struct SequenceMark(uint Boot, uint LastSeq, bool Started, long TotalMissed, List<SeqRange> Missing);
