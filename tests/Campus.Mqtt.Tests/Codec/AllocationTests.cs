using System.Buffers;
using Campus.Mqtt.Protocol.V311;

namespace Campus.Mqtt.Tests.Codec;

/// <summary>The PUBLISH path allocates nothing: decode gives slices of the input, encode writes into the caller's buffer.</summary>
public sealed class AllocationTests
{
    [Fact]
    public void Decoding_publish_packets_allocates_nothing()
    {
        var one = Codec.Encode(SamplePackets.Publish("campus/v1/s01/r101/energy/m1/telemetry", "{\"v\":1,\"seq\":42,\"kwh\":12.5}", MqttQualityOfServiceLevel.AtLeastOnce, false, false, 7));
        var many = new byte[one.Length * 1000];
        for (var i = 0; i < 1000; i++) one.CopyTo(many, i * one.Length);
        foreach (var input in new[] { new ReadOnlySequence<byte>(many), Segments.Split(many, 4096) })
        {
            DecodeAll(input); // warm up
            var before = GC.GetAllocatedBytesForCurrentThread();
            var count = DecodeAll(input);
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(1000, count);
            Assert.Equal(0, allocated);
        }
    }

    [Fact]
    public void Encoding_publish_packets_allocates_nothing()
    {
        var writer = new ArrayBufferWriter<byte>(1 << 20);
        var payload = new ReadOnlySequence<byte>(new byte[64]);
        const string topic = "campus/v1/s01/r101/energy/m1/telemetry";
        MqttV311Encoder.WritePublish(writer, topic, payload, MqttQualityOfServiceLevel.AtLeastOnce, false, false, 1);
        writer.ResetWrittenCount();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (ushort id = 1; id <= 1000; id++) MqttV311Encoder.WritePublish(writer, topic, payload, MqttQualityOfServiceLevel.AtLeastOnce, false, false, id);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.True(writer.WrittenCount > 1000 * 64);
    }

    private static int DecodeAll(ReadOnlySequence<byte> input)
    {
        var reader = new SequenceReader<byte>(input);
        var count = 0;
        long payloadBytes = 0;
        while (MqttV311Decoder.TryRead(ref reader, Codec.Unlimited, out var packet))
        {
            payloadBytes += packet.Publish.Payload.Length;
            count++;
        }
        return payloadBytes > 0 ? count : -1;
    }
}
