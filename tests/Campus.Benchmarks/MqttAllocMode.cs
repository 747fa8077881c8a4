using System.Buffers;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Campus.Mqtt;
using Campus.Mqtt.Protocol;
using Campus.Mqtt.Protocol.V311;
using Campus.Mqtt.Server;
using Campus.Mqtt.Server.Routing;
using Campus.Mqtt.Server.Sessions;
using Microsoft.Extensions.Logging.Abstractions;

namespace Campus.Benchmarks;

/// <summary>
/// Decode + route + encode of a QoS 0 PUBLISH through the broker's routing core (subscription
/// tree, overlapping subscriptions, one shared encoding copied to every receiver), with
/// allocations measured per operation. Decoding alone is the baseline.
/// </summary>
[MemoryDiagnoser]
public class MqttRoutingBenchmark
{
    private const int Subscribers = 10;
    private BrokerCore _core = null!;
    private DiscardingSink[] _sinks = null!;
    private ReadOnlySequence<byte> _packet;

    [GlobalSetup]
    public void Setup()
    {
        _core = new BrokerCore(new MqttServerOptions(), NullLogger.Instance, new BrokerMetrics(), passwords: null, acl: null);
        _sinks = new DiscardingSink[Subscribers];
        string[] filters = ["campus/#", "campus/v1/+/+/energy/+/telemetry", "campus/v1/s01/r101/energy/m1/telemetry", "campus/v1/s01/#", "campus/v1/s02/#"];
        for (var i = 0; i < Subscribers; i++)
        {
            var session = new MqttSession($"sub-{i}", clean: true, maxInflight: 100, maxQueued: 1000);
            _sinks[i] = new DiscardingSink();
            lock (session.Gate) session.AttachLocked(_sinks[i]);
            // Each subscriber has two overlapping filters; one of them never matches the topic below.
            _core.Subscribe(session, [new MqttTopicFilter(filters[i % filters.Length], MqttQualityOfServiceLevel.AtMostOnce), new MqttTopicFilter("campus/v1/+/r101/#", MqttQualityOfServiceLevel.AtMostOnce)], acl: null, userName: null);
        }
        // Unrelated subscriptions, so the tree has some breadth.
        for (var i = 0; i < 1000; i++)
        {
            var other = new MqttSession($"other-{i}", clean: true, maxInflight: 100, maxQueued: 1000);
            _core.Subscribe(other, [new MqttTopicFilter($"campus/v1/s{i % 50:00}/r{i}/door/+/event", MqttQualityOfServiceLevel.AtLeastOnce)], acl: null, userName: null);
        }
        var w = new ArrayBufferWriter<byte>();
        MqttV311Encoder.WritePublish(w, "campus/v1/s01/r101/energy/m1/telemetry",
            new ReadOnlySequence<byte>("{\"v\":1,\"seq\":4711,\"ts\":1764160000,\"w\":1234.5,\"kwh\":98765.4}"u8.ToArray()),
            MqttQualityOfServiceLevel.AtMostOnce, retain: false, dup: false, packetIdentifier: 0);
        _packet = new ReadOnlySequence<byte>(w.WrittenMemory);
    }

    [Benchmark(Baseline = true)]
    public int DecodeOnly()
    {
        MqttV311Decoder.TryRead(_packet, 1 << 20, out var packet, out _);
        return (int)packet.Publish.Payload.Length;
    }

    [Benchmark]
    public long DecodeRouteEncode()
    {
        MqttV311Decoder.TryRead(_packet, 1 << 20, out var packet, out _);
        _core.HandleClientPublish("bench-publisher", null, null, packet.Publish);
        return _sinks[0].Bytes;
    }

    /// <summary>Stands in for a connection's output pipe: copies the packet into a reused buffer.</summary>
    private sealed class DiscardingSink : IPacketSink
    {
        private readonly byte[] _buffer = new byte[4096];

        public long Bytes { get; private set; }

        public bool TryWriteShared(ReadOnlySpan<byte> encodedPacket)
        {
            encodedPacket.CopyTo(_buffer);
            Bytes += encodedPacket.Length;
            return true;
        }

        public bool WritePublish(StoredMessage message, MqttQualityOfServiceLevel qos, ushort packetIdentifier, bool dup, bool retain) => true;

        public void WriteAcknowledgement(MqttPacketType type, ushort packetIdentifier)
        {
        }

        public void WriteConnAck(bool sessionPresent, MqttConnectReturnCode returnCode)
        {
        }

        public void Abort(MqttClientDisconnectType reason)
        {
        }
    }
}

/// <summary><c>mqtt-alloc</c>: runs <see cref="MqttRoutingBenchmark"/> (short job) and writes its figures.</summary>
internal sealed class MqttAllocMode : IBenchmarkMode
{
    public string Name => "mqtt-alloc";
    public string Description => "allocations of decode + route + encode of a QoS 0 PUBLISH (BenchmarkDotNet)";

    public Task<int> RunAsync(string[] args)
    {
        var job = Job.ShortRun.WithIterationCount(5)
            .WithToolchain(InProcessEmitToolchain.Instance).WithId("short");
        var config = ManualConfig.Create(DefaultConfig.Instance)
            .AddJob(job)
            .WithArtifactsPath(Path.Combine(Path.GetTempPath(), "campus-benchmarkdotnet"))
            .WithOptions(ConfigOptions.DisableOptimizationsValidator);
        var summary = BenchmarkRunner.Run<MqttRoutingBenchmark>(config);
        var figures = new JsonObject { ["subscribersMatched"] = 10, ["subscriptionsInTree"] = 1020 };
        double? baseline = null;
        foreach (var report in summary.Reports)
        {
            var name = report.BenchmarkCase.Descriptor.WorkloadMethod.Name;
            var mean = report.ResultStatistics?.Mean ?? double.NaN;
            var allocated = report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase);
            if (name == nameof(MqttRoutingBenchmark.DecodeOnly)) baseline = mean;
            figures[name] = new JsonObject { ["meanNanoseconds"] = Math.Round(mean, 1), ["allocatedBytesPerOperation"] = allocated };
            Console.WriteLine($"{name}: {mean:N1} ns/op, {allocated} B allocated/op");
        }
        if (baseline is { } b && figures[nameof(MqttRoutingBenchmark.DecodeRouteEncode)] is JsonObject full
            && figures[nameof(MqttRoutingBenchmark.DecodeOnly)] is JsonObject decodeOnly)
        {
            full["ratioToDecodeOnly"] = Math.Round((double)full["meanNanoseconds"]! / b, 2);
            // What routing and encoding add on top of decoding (the broker's own hot path).
            var core = (long?)full["allocatedBytesPerOperation"] - (long?)decodeOnly["allocatedBytesPerOperation"];
            figures["routeAndEncodeAllocatedBytesPerOperation"] = core;
            Console.WriteLine($"route + encode on top of decode: {core} B allocated/op");
        }
        BenchResults.Write("mqtt-alloc", figures);
        return Task.FromResult(summary.HasCriticalValidationErrors ? 1 : 0);
    }
}
