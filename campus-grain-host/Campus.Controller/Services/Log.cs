using Microsoft.Extensions.Logging;

namespace Campus.Controller.Services;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Warning, "Device watch: tick of {Device} failed")]
    public static partial void TickFailed(ILogger logger, string device, Exception exception);

    [LoggerMessage(2, LogLevel.Information, "Rejected message on {Topic} from {Sender}: {Reason} ({Detail})")]
    public static partial void Rejected(ILogger logger, string topic, string sender, string reason, string detail);

    [LoggerMessage(3, LogLevel.Warning, "Alert {AlertId} {Type} raised at school {School} by {Source}: {Message}")]
    public static partial void AlertRaised(ILogger logger, string alertId, string type, string school, string source, string message);

    [LoggerMessage(4, LogLevel.Warning, "Storage unavailable while ingesting {Topic}; the message is not acknowledged: {Reason}")]
    public static partial void StorageUnavailable(ILogger logger, string topic, string reason);

    [LoggerMessage(5, LogLevel.Error, "Ingestion of {Topic} failed; the message is not acknowledged")]
    public static partial void IngestFailed(ILogger logger, string topic, Exception exception);

    [LoggerMessage(6, LogLevel.Information, "Device {Device}: {Missed} message(s) missing before seq {Seq} of boot {Boot}")]
    public static partial void Gap(ILogger logger, string device, uint missed, uint seq, uint boot);

    [LoggerMessage(7, LogLevel.Warning, "Lockdown {State} at school {School} by {By}; sent to {Count} device(s)")]
    public static partial void Lockdown(ILogger logger, string state, string school, string by, int count);

    [LoggerMessage(8, LogLevel.Information, "Ingestion connected to {Host}:{Port} as {ClientId}")]
    public static partial void Connected(ILogger logger, string host, int port, string clientId);

    [LoggerMessage(9, LogLevel.Warning, "Ingestion connection to {Host}:{Port} failed; retrying in {Delay}")]
    public static partial void ConnectFailed(ILogger logger, string host, int port, TimeSpan delay, Exception exception);

    [LoggerMessage(12, LogLevel.Warning, "A message could not be stored; resuming the broker session in {Delay} so that the broker sends it again")]
    public static partial void ResumingSession(ILogger logger, TimeSpan delay);

    [LoggerMessage(10, LogLevel.Warning, "Could not publish a command to {Topic}")]
    public static partial void CommandFailed(ILogger logger, string topic, Exception exception);

    [LoggerMessage(11, LogLevel.Warning, "{Count} rejected messages were not logged (at most {PerWindow} lines per {Window}); campus.ingest.rejected counts every one by reason")]
    public static partial void RejectionsNotLogged(ILogger logger, long count, int perWindow, TimeSpan window);

    [LoggerMessage(17, LogLevel.Warning, "{Count} failed ingestions were not logged (at most {PerWindow} lines per {Window})")]
    public static partial void FailuresNotLogged(ILogger logger, long count, int perWindow, TimeSpan window);

    [LoggerMessage(18, LogLevel.Error, "School {School}: the audit entry {Action} on {Target} at {At} is dropped: too many entries wait for storage")]
    public static partial void AuditEntryDropped(ILogger logger, string school, string action, string target, DateTimeOffset at);

    [LoggerMessage(19, LogLevel.Warning, "Device {Device}: {Count} alert signal(s) could not be sent to the school again; they stay kept")]
    public static partial void PendingSignalsNotSent(ILogger logger, string device, int count, Exception exception);

    [LoggerMessage(20, LogLevel.Error, "Device {Device}: the kept {Type} alert signal of message order {Order} is dropped: too many signals wait for the school")]
    public static partial void PendingSignalDropped(ILogger logger, string device, string type, long order);

    [LoggerMessage(13, LogLevel.Warning, "Device {Device}: what is kept for a refused message's re-send could not be written now; it goes with the next state write")]
    public static partial void KeptForResendNotWritten(ILogger logger, string device, Exception exception);

    [LoggerMessage(14, LogLevel.Warning, "School {School}: {Count} change(s) of alerts not yet in the alert history or the audit log; trying again in {Retry}")]
    public static partial void AlertTrailNotWritten(ILogger logger, string school, int count, TimeSpan retry, Exception exception);

    [LoggerMessage(15, LogLevel.Error, "School {School}: the alert history's row for alert {AlertId} changed at {ChangedAt} is dropped: too many rows wait for storage")]
    public static partial void AlertTrailDropped(ILogger logger, string school, string alertId, DateTimeOffset changedAt);

    [LoggerMessage(16, LogLevel.Error, "School {School}: its state, with {Count} change(s) of alerts kept for the alert history, could not be written before the grain was deactivated; what it held since its last write is lost")]
    public static partial void AlertTrailLost(ILogger logger, string school, int count, Exception exception);
}
