using Campus.Contracts;
using Campus.Controller.Domain;
using Campus.Controller.Services;
using Campus.Grains;
using Campus.Grains.Storage;
using DomainReason = Campus.Controller.Domain.AccessReason;
using WireReason = Campus.Contracts.AccessReason;

namespace Campus.Controller.Grains;

/// <summary>A door card reader's persisted state.</summary>
internal sealed class DoorGrainState : DeviceState
{
    public ReplayGuardState Guard { get; set; } = new();
    public DoorMonitor Door { get; set; } = new();
    public DeniedCardWindow Denied { get; set; } = new();
    public AccessAnswerBook Answers { get; set; } = new();
    public long Entries { get; set; }
    public long Rejected { get; set; }

    /// <summary>Alert signals the school could not take, for events whose log entries are stored; sent again first.</summary>
    public List<AlertSignal> PendingSignals { get; set; } = [];
}

/// <summary>
/// A door card reader: verifies every event's HMAC and sequence (forged or replayed events raise
/// an alert and count nothing), answers access requests with the school's decision, follows the
/// door (forced, held open) and counts denied cards and after-hours entries.
/// </summary>
internal sealed class DoorGrain(
    [PersistentState("device")] IPersistentState<DoorGrainState> state,
    DeviceServices services,
    IEventVerifier verifier)
    : DeviceGrainBase<DoorGrainState>(state, services), IDoorGrain
{
    private SchoolClock? _clock;
    private TimeZoneInfo? _zone;
    private DateTimeOffset _clockAt;

    protected override DoorState? DoorStateForReport => S.Door.State;
    protected override long EntriesForSnapshot => S.Entries;

    protected override async ValueTask<IngestResult?> PreSequenceCheckAsync(DeviceMessage message, uint boot, uint seq)
    {
        _verified = null;
        _keptSignal = false;
        _current = (boot, seq);
        if (S.PendingSignals.Count > 0) await SendPendingSignalsAsync();
        if (message.Payload is not DeviceEvent) return null;
        var key = S.HmacKey is null ? null : Convert.FromBase64String(S.HmacKey);
        var (verdict, guard) = verifier.Verify(DeviceId, message.Raw.Span, key, boot, seq, S.Guard);
        switch (verdict)
        {
            case SignatureVerdict.Valid:
                // Valid and taken back before: the guard matched it to the refused message's exact bytes.
                var resend = S.Guard.TakenBack.Count > 0 && S.Guard.TakenBack.Any(t => t.Boot == boot && t.Seq == seq);
                _verified = new VerifiedEvent(S.Guard, boot, seq, message.Raw, resend);
                S.Guard = guard;
                return null;
            case SignatureVerdict.Duplicate when message.PossibleRedelivery:
                S.Duplicates++;
                return IngestResult.Duplicate;
            case SignatureVerdict.Duplicate:
                // A device re-sends an event only with MQTT's DUP flag (after a missed PUBACK): the
                // same signed bytes published as a new message are someone replaying a capture.
                return await RejectReplayAsync(
                    $"Replayed event: boot {boot} seq {seq} is a byte-identical copy of a verified event, published as a new message (no DUP flag).");
            case SignatureVerdict.Replayed:
                return await RejectReplayAsync(
                    $"Replayed event: boot {boot} seq {seq} is not after the last verified one ({S.Guard.LastBoot}/{S.Guard.LastSeq}) and is not the re-send of an event refused earlier.");
            default:
                S.Rejected++;
                await SignalAsync(new AlertSignal(AlertType.ForgedAccessEvent, AlertSeverity.Critical,
                    $"Event with a missing or wrong signature (boot {boot} seq {seq})."));
                await WriteNowAsync();
                return IngestResult.Rejected("bad-signature");
        }
    }

    /// <summary>The current event, verified: taken back if it cannot be applied.</summary>
    /// <param name="GuardBefore">The guard before the event was verified.</param>
    /// <param name="ResendOfRefused">The byte-identical re-send of an event taken back earlier.</param>
    private readonly record struct VerifiedEvent(ReplayGuardState GuardBefore, uint Boot, uint Seq, ReadOnlyMemory<byte> Raw, bool ResendOfRefused);

    private VerifiedEvent? _verified;

    protected override bool IsResendOfRefused => _verified is { ResendOfRefused: true };

    /// <summary>
    /// The event was verified but not applied (storage down), so it is not acknowledged and the door sends it again.
    /// The guard goes back to where it was, and remembers the event as taken back: its re-send must neither look
    /// already seen nor, when newer events were accepted before it arrives (through an external broker later
    /// messages keep flowing), look like a replay of an old (boot, seq). What is kept for the re-send (the event
    /// taken back, an access request's answer) is written at once.
    /// </summary>
    protected override bool TakeBackChecks()
    {
        var keep = _keptSignal;
        _keptSignal = false;
        if (_verified is { } e)
        {
            // An access request's answer, when one was made, is already in S.Answers: it is written with the guard.
            S.Guard = verifier.TakeBack(e.GuardBefore, e.Boot, e.Seq, e.Raw.Span);
            keep = true;
        }
        _verified = null;
        return keep;
    }

    /// <summary>The (boot, seq) of the message being applied.</summary>
    private (uint Boot, uint Seq) _current;

    /// <summary>Whether the current message kept a signal for the school (written at once when the message fails).</summary>
    private bool _keptSignal;

    /// <summary>At most this many signals wait for the school; beyond, the oldest is dropped (and logged as an error).</summary>
    internal const int MaxPendingSignals = 16;

    /// <summary>
    /// Raises an alert for the current event once its log entry is stored. The event's re-send meets that entry and
    /// raises nothing, so a signal the school could not take is kept with the door's state (the failing message's
    /// path writes it) and sent again before the door's next message or tick. It carries the event's (boot, seq) as
    /// its order, so that a signal that did reach the school's book is not counted twice.
    /// </summary>
    private async Task SignalAfterLogAsync(AlertSignal signal)
    {
        var ordered = signal with { Order = ((long)_current.Boot << 32) | _current.Seq };
        try
        {
            await SignalAsync(ordered);
        }
        catch
        {
            if (S.PendingSignals.Count >= MaxPendingSignals)
            {
                Log.PendingSignalDropped(Services.Logger, DeviceId, S.PendingSignals[0].Type.ToString(), S.PendingSignals[0].Order ?? 0);
                S.PendingSignals.RemoveAt(0);
            }
            S.PendingSignals.Add(ordered);
            _keptSignal = true;
            throw;
        }
    }

    private async Task SendPendingSignalsAsync()
    {
        while (S.PendingSignals.Count > 0)
        {
            try
            {
                await SignalAsync(S.PendingSignals[0]);
            }
            catch (Exception e)
            {
                Log.PendingSignalsNotSent(Services.Logger, DeviceId, S.PendingSignals.Count, e);
                return;
            }
            S.PendingSignals.RemoveAt(0);
            MarkStateChanged();
        }
    }

    private async Task<IngestResult> RejectReplayAsync(string description)
    {
        S.Rejected++;
        await SignalAsync(new AlertSignal(AlertType.ReplayedAccessEvent, AlertSeverity.Critical, description));
        await WriteNowAsync();
        return IngestResult.Rejected("replayed");
    }

    protected override async Task<IngestResult> ApplyEventAsync(DeviceMessage message, DeviceEvent ev)
    {
        var now = message.ReceivedAt;
        switch (ev)
        {
            case AccessRequestEvent request:
                return await AnswerAccessRequestAsync(message, request);
            case AccessEvent access:
            {
                var granted = access.Result == AccessResult.Granted;
                // Asked before the log entry is stored: once it is, a failure here would leave the re-send nothing to raise.
                var afterHours = granted && !await IsOpenAsync(now);
                if (!await LogEventAsync(message, ev, access.Card, null, access.Result.ToWire(), access.Reason.ToWire(), access.Source.ToWire(), access.Req))
                    return IngestResult.Duplicate;
                if (granted)
                {
                    S.Entries++;
                    S.Door.Granted(now);
                    if (afterHours)
                        await SignalAfterLogAsync(new AlertSignal(AlertType.AfterHoursEntry, AlertSeverity.Warning,
                            $"Card {access.Card} entered after hours ({access.Source.ToWire()} decision)."));
                }
                else if (S.Denied.Denied(now, access.Card, Options.DeniedCardsThreshold, Options.DeniedCardsWindow) is { } denied)
                {
                    await SignalAfterLogAsync(denied);
                }
                return IngestResult.Accepted;
            }
            case DoorEvent door:
            {
                if (!await LogEventAsync(message, ev, details: door.State.ToWire())) return IngestResult.Duplicate;
                var signal = door.State == ContactState.Open ? S.Door.Opened(now, Options.Door) : S.Door.Closed(now);
                if (signal is { } s) await SignalAfterLogAsync(s);
                Services.Watch.SetDeadline(DeviceId, S.Kind, S.Door.NextDeadline(Options.Door));
                DiscreteChange = true;
                return IngestResult.Accepted;
            }
            case RexEvent:
                if (!await LogEventAsync(message, ev)) return IngestResult.Duplicate;
                S.Door.RequestToExit(now);
                return IngestResult.Accepted;
            case ForcedEvent:
                if (!await LogEventAsync(message, ev)) return IngestResult.Duplicate;
                await SignalAfterLogAsync(new AlertSignal(AlertType.DoorForced, AlertSeverity.Critical, "The reader reports the door was forced open."));
                return IngestResult.Accepted;
            case HeldOpenEvent held:
                if (!await LogEventAsync(message, ev, details: held.Stage.ToWire())) return IngestResult.Duplicate;
                await SignalAfterLogAsync(new AlertSignal(AlertType.DoorHeldOpen,
                    held.Stage == Campus.Contracts.HeldOpenStage.Alarm ? AlertSeverity.Major : AlertSeverity.Warning,
                    $"The reader reports the door held open for {held.OpenS} s ({held.Stage.ToWire()})."));
                return IngestResult.Accepted;
            default:
                return await base.ApplyEventAsync(message, ev);
        }
    }

    /// <summary>
    /// Decides an access request, answers the reader at once on its command topic (also while storage is down:
    /// the answer does not wait for the log), then logs the request. When the log cannot be stored the request
    /// is not acknowledged and the reader sends it again; by then the reader has acted on the answer (or given
    /// up waiting and decided from its allow-list), so the re-send is not decided again. It gets the answer kept
    /// in <see cref="AccessAnswerBook"/>: the same decision, logged once with the time it was made, no second
    /// grant for the door monitor and no second count. The answer is published again only if it never went out.
    /// </summary>
    private async Task<IngestResult> AnswerAccessRequestAsync(DeviceMessage message, AccessRequestEvent request)
    {
        var answer = S.Answers.Find(request.Boot, request.Seq, request.Req, request.Card);
        if (answer is null)
        {
            var now = message.ReceivedAt;
            var d = (await School.DecideAccess(DeviceId, S.Room, request.Card)).Decision;
            answer = S.Answers.Add(new AccessAnswer
            {
                Boot = request.Boot,
                Seq = request.Seq,
                Req = request.Req,
                Card = request.Card,
                Granted = d.Granted,
                Reason = d.Reason,
                PersonId = d.PersonId,
                DecidedAt = now,
                CommandId = CommandIds.Next(),
            });
            Services.Metrics.AccessDecision(d.Granted);
            if (d.Granted) S.Door.Granted(now);
        }
        if (!answer.Published)
        {
            await Services.Commands.PublishAsync(message.Topic.WithStream(TopicStream.Command, CommandNames.Access), new AccessCommand
            {
                Id = answer.CommandId,
                Ts = answer.DecidedAt.ToUnixTimeMilliseconds(),
                Req = request.Req,
                Card = request.Card,
                Grant = answer.Granted,
                Reason = ToWire(answer.Reason),
                OpenMs = answer.Granted ? Options.OpenMs : null,
            });
            answer.Published = true;
        }
        await LogEventAsync(message with { ReceivedAt = answer.DecidedAt }, request, request.Card, answer.PersonId,
            answer.Granted ? "granted" : "denied", answer.Reason.ToWire(), "controller", request.Req);
        S.Answers.Remove(answer);
        return IngestResult.Accepted;
    }

    public override async Task Tick()
    {
        await base.Tick();
        if (!S.Provisioned) return;
        if (S.PendingSignals.Count > 0) await SendPendingSignalsAsync();
        if (S.Door.Tick(Now, Options.Door) is { } signal)
        {
            await SignalAsync(signal);
            await WriteNowAsync();
        }
        Services.Watch.SetDeadline(DeviceId, S.Kind, S.Door.NextDeadline(Options.Door));
    }

    private async Task<bool> IsOpenAsync(DateTimeOffset now)
    {
        if (_clock is null || now - _clockAt > TimeSpan.FromMinutes(10))
        {
            _clock = await School.GetClock();
            _zone = TimeZoneInfo.FindSystemTimeZoneById(_clock.TimeZoneId);
            _clockAt = now;
        }
        return _clock.OpeningHours.Contains(now, _zone!);
    }

    private static WireReason ToWire(DomainReason r) => r switch
    {
        DomainReason.Ok => WireReason.Ok,
        DomainReason.UnknownCard => WireReason.UnknownCard,
        DomainReason.CardBlocked => WireReason.CardBlocked,
        DomainReason.OutsideSchedule => WireReason.OutsideSchedule,
        DomainReason.NoZone => WireReason.NoZone,
        DomainReason.Lockdown => WireReason.Lockdown,
        _ => WireReason.Timeout,
    };
}
