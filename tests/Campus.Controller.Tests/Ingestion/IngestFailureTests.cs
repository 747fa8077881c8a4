using System.Net.Sockets;
using Campus.Controller.Ingestion;
using Campus.Grains;
using Campus.Grains.Storage;
using Npgsql;

namespace Campus.Controller.Tests.Ingestion;

/// <summary>Which failures of a grain mean "send it again" (not acknowledged) and which a counted rejection.</summary>
public sealed class IngestFailureTests
{
    public static TheoryData<string, Exception, bool> Failures() => new()
    {
        { "file error", new IOException("disk full"), true },
        { "grain state changed behind the grain", new InconsistentStateException("etag mismatch", "2", "1"), true },
        { "activation failed on a storage error", new InvalidOperationException("Activation of grain device/d1 failed", new IOException("disk")), true },
        { "runtime stopping", new GrainRuntimeStoppedException("stopping"), true },
        { "deactivated before the call ran", new ObjectDisposedException("device/d1"), true },
        { "connection lost", new SocketException((int)SocketError.ConnectionReset), true },
        { "timeout", new TimeoutException("30 s"), true },
        { "database shut down", new PostgresException("terminating connection", "FATAL", "FATAL", "57P01"), true },
        { "database refuses the data", new PostgresException("invalid byte sequence", "ERROR", "ERROR", "22021"), false },
        { "database refuses a duplicate", new PostgresException("duplicate key", "ERROR", "ERROR", "23505"), false },
        { "a bug in a grain", new NullReferenceException(), false },
        { "a grain refused the message", new ArgumentException("bad"), false },
        { "activation failed on a bug", new InvalidOperationException("Activation failed", new NullReferenceException()), false },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void A_failure_means_retry_only_when_it_says_nothing_about_the_message(string what, Exception failure, bool retry) =>
        Assert.True(MessageIngestor.IsTransient(failure) == retry, $"{what}: expected {(retry ? "retry" : "a rejection")}");
}
