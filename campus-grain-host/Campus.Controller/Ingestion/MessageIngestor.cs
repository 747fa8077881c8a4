using System.Diagnostics;
using Campus.Contracts;
using Campus.Controller.Grains;
using Campus.Controller.History;
using Campus.Controller.Services;
using Campus.Grains;
using Campus.Grains.Storage;
using Microsoft.Extensions.Logging;

namespace Campus.Controller.Ingestion;

/// <summary>What to do with the transport-level message after ingestion.</summary>
public enum IngestDisposition
{
    /// <summary>The effect is durable (or the message was a duplicate): acknowledge and route it.</summary>
    Done,

    /// <summary>The message was rejected with a counted reason: acknowledge it (it never gets better) but do not route it.</summary>
    Rejected,

    /// <summary>A command of the controller itself echoed back by the subscription: nothing to do.</summary>
    Ignored,

    /// <summary>The effect could not be made durable (storage down): do NOT acknowledge, so it is delivered again.</summary>
    Retry,
}

/// <summary>
/// Turns one MQTT message into a device-grain call: size, topic, sender, registration and payload
/// checks (each failure counted under campus.ingest.rejected{reason} and logged), then the device
/// grain, which de-duplicates, applies and stores it. Nothing here throws for bad input, and a
/// message can only reach the grain of the device its topic names, after that device was
/// checked to be registered there.
/// </summary>
public sealed class MessageIngestor(
    IGrainFactory grains,
    DeviceDirectory directory,
    ControllerMetrics metrics,
    TimeProvider time,
    ILogger<MessageIngestor> logger)
{
    /// <param name="possibleRedelivery">
    /// True when the message may be a re-send of one sent before: the sender set MQTT's DUP flag, or
    /// the transport cannot tell (see <see cref="DeviceMessage.PossibleRedelivery"/>).
    /// </param>
    public async ValueTask<IngestDisposition> IngestAsync(string topic, ReadOnlyMemory<byte> payload, string? sender, bool possibleRedelivery = false, CancellationToken cancellationToken = default)
    {
        if (!DeviceTopic.TryParse(topic.AsSpan(), out var parsed, out var topicError))
        {
            metrics.Received();
            return Reject(topic, sender, topicError.ToTag(), topicError.ToString());
        }
        if (parsed.Stream == TopicStream.Command)
        {
            if (sender is null) return IngestDisposition.Ignored;
            metrics.Received();
            return Reject(topic, sender, "device-sent-command", "devices only read commands");
        }
        metrics.Received();
        var started = Stopwatch.GetTimestamp();
        if (payload.Length > PayloadReader.MaxPayloadBytes)
            return Reject(topic, sender, "oversize", $"{payload.Length} bytes, limit {PayloadReader.MaxPayloadBytes}");
        if (sender is not null && !string.Equals(sender, parsed.Device, StringComparison.Ordinal))
            return Reject(topic, sender, "sender-mismatch", $"client '{sender}' published for device '{parsed.Device}'");
        if (!directory.TryGetRegistration(parsed.Device, out var registration))
            return Reject(topic, sender, "unknown-device", parsed.Device);
        var entry = registration.Entry;
        if (!string.Equals(entry.School, parsed.School, StringComparison.Ordinal) || !string.Equals(entry.Room, parsed.Room, StringComparison.Ordinal) || entry.Kind != parsed.Kind)
            return Reject(topic, sender, "wrong-location", $"registered at {entry.School}/{entry.Room} as {entry.Kind.ToWire()}");

        var read = PayloadReader.Read(parsed, payload.Span);
        if (!read.IsValid) return Reject(topic, sender, read.Rejection.ToTag(), read.Message);

        // Signed events need their exact bytes; the transport's buffer may be reused once we return.
        var raw = parsed.Kind == DeviceKind.Door && parsed.Stream == TopicStream.Event ? payload.ToArray() : ReadOnlyMemory<byte>.Empty;
        try
        {
            var grain = registration.Grain ??= DeviceGrains.Get(grains, parsed.Kind, parsed.Device);
            var result = await grain
                .Ingest(new DeviceMessage(parsed, read.Value, raw, time.GetUtcNow(), possibleRedelivery)).ConfigureAwait(false);
            switch (result.Outcome)
            {
                case IngestOutcome.Accepted:
                    metrics.Accepted(Stopwatch.GetElapsedTime(started));
                    return IngestDisposition.Done;
                case IngestOutcome.Duplicate:
                    metrics.Duplicate();
                    return IngestDisposition.Done;
                default:
                    return Reject(topic, sender, result.Reason ?? "rejected", "by the device grain");
            }
        }
        catch (StorageUnavailableException e)
        {
            if (MayLogFailure()) Log.StorageUnavailable(logger, topic, e.Message);
            return IngestDisposition.Retry;
        }
        catch (Exception e) when (IsTransient(e))
        {
            // Storage or a call that may succeed next time: not acknowledged, so the device sends it again.
            if (MayLogFailure()) Log.IngestFailed(logger, topic, e);
            return IngestDisposition.Retry;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A message that makes a grain fail would fail again on every redelivery (and, through an external
            // broker, hold up every device's messages behind it): count it and move on.
            return Reject(topic, sender, "error", $"{e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>
    /// Failures that say nothing about the message, also when wrapped (a grain whose activation failed): a timeout,
    /// a storage error (the history store's outage, a grain state that could not be read or written or was changed
    /// behind the grain, a database or file error), a lost connection, a runtime that is stopping. A database that
    /// refuses the data itself (PostgreSQL's classes 22, data exception, and 23, integrity) would refuse it again.
    /// </summary>
    internal static bool IsTransient(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            switch (x)
            {
                case Npgsql.PostgresException pg:
                    return !pg.SqlState.StartsWith("22", StringComparison.Ordinal) && !pg.SqlState.StartsWith("23", StringComparison.Ordinal);
                case TimeoutException or InconsistentStateException or IOException or System.Data.Common.DbException
                    or System.Net.Sockets.SocketException or OperationCanceledException or ObjectDisposedException
                    or GrainRuntimeStoppedException or StorageUnavailableException:
                    return true;
            }
        }
        return false;
    }

    /// <summary>Storage failures are logged at most 20 per 10 s as well: an outage fails every message.</summary>
    private readonly LogBudget _failureLog = new(time, 20, TimeSpan.FromSeconds(10));

    /// <summary>Whether the budget lets one more failure be logged; the first line after held-back ones says how many.</summary>
    private bool MayLogFailure()
    {
        if (!_failureLog.TryTake(out var heldBack)) return false;
        if (heldBack > 0) Log.FailuresNotLogged(logger, heldBack, _failureLog.PerWindow, _failureLog.Window);
        return true;
    }

    /// <summary>Rejections are counted one by one; at most 20 are logged per 10 s (devices decide how many there are).</summary>
    private readonly LogBudget _rejectionLog = new(time, 20, TimeSpan.FromSeconds(10));

    private IngestDisposition Reject(string topic, string? sender, string reason, string detail)
    {
        metrics.Rejected(reason);
        if (_rejectionLog.TryTake(out var heldBack))
        {
            if (heldBack > 0) Log.RejectionsNotLogged(logger, heldBack, _rejectionLog.PerWindow, _rejectionLog.Window);
            Log.Rejected(logger, topic, sender ?? "(unknown)", reason, detail);
        }
        return IngestDisposition.Rejected;
    }
}
