using System.Buffers;
using System.Text;
using Campus.Mqtt.Protocol;
using Campus.Mqtt.Protocol.V311;

namespace Campus.Mqtt.Tests.Codec;

public sealed class RoundTripTests
{
    public static TheoryData<string> PacketNames => SamplePackets.Names();

    [Theory]
    [MemberData(nameof(PacketNames))]
    public void Every_packet_type_decodes_to_what_was_encoded(string name)
    {
        var bytes = SamplePackets.Bytes(name);
        var again = Codec.DecodeAndReencode(new ReadOnlySequence<byte>(bytes), out _);
        Assert.Equal(Convert.ToHexString(bytes), Convert.ToHexString(again));
    }

    [Theory]
    [MemberData(nameof(PacketNames))]
    public void Every_packet_type_decodes_the_same_when_split_across_many_segments(string name)
    {
        var bytes = SamplePackets.Bytes(name);
        foreach (var size in new[] { 1, 2, 3, 7 })
        {
            var again = Codec.DecodeAndReencode(Segments.Split(bytes, size), out _);
            Assert.True(bytes.AsSpan().SequenceEqual(again), $"{name} split every {size} bytes decoded differently");
        }
        var seed = name.Length * 7919;
        var random = new Random(seed);
        for (var i = 0; i < 20; i++)
        {
            var again = Codec.DecodeAndReencode(Segments.SplitRandomly(bytes, random), out _);
            Assert.True(bytes.AsSpan().SequenceEqual(again), $"{name} split randomly (seed {seed}, round {i}) decoded differently");
        }
    }

    [Theory]
    [MemberData(nameof(PacketNames))]
    public void Every_prefix_of_a_packet_is_incomplete_and_consumes_nothing(string name)
    {
        var bytes = SamplePackets.Bytes(name);
        var step = bytes.Length > 2000 ? 97 : 1; // the 70 kB PUBLISH: every 97th prefix plus the edges
        for (var length = 0; length < bytes.Length; length += length < 8 || length > bytes.Length - 8 ? 1 : step)
        {
            foreach (var input in new[] { new ReadOnlySequence<byte>(bytes, 0, length), Segments.Split(bytes[..length], step == 1 ? 3 : 1000) })
            {
                var reader = new SequenceReader<byte>(input);
                var read = MqttV311Decoder.TryRead(ref reader, Codec.Unlimited, out _);
                Assert.False(read, $"{name}: a {length}-byte prefix of {bytes.Length} bytes must be incomplete");
                Assert.Equal(0, reader.Consumed);
            }
        }
    }

    [Fact]
    public void Publish_fields_are_slices_of_the_input()
    {
        var bytes = Codec.Encode(SamplePackets.Publish("campus/v1/s01", "hello", MqttQualityOfServiceLevel.ExactlyOnce, true, true, 42));
        var packet = Codec.DecodeOne(bytes);
        Assert.Equal(MqttPacketType.Publish, packet.Type);
        var publish = packet.Publish;
        Assert.Equal("campus/v1/s01", publish.GetTopicName());
        Assert.Equal("hello", Encoding.UTF8.GetString(publish.Payload));
        Assert.Equal(MqttQualityOfServiceLevel.ExactlyOnce, publish.QualityOfServiceLevel);
        Assert.True(publish.Retain);
        Assert.True(publish.Dup);
        Assert.Equal(42, publish.PacketIdentifier);
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(publish.Payload.First, out var segment));
        Assert.Same(bytes, segment.Array);
    }

    [Fact]
    public void Connect_fields_survive_the_round_trip()
    {
        var original = new ConnectPacket
        {
            ClientId = "kit-7",
            CleanSession = false,
            KeepAliveSeconds = 30,
            WillTopic = "w/t",
            WillPayload = new byte[] { 1, 2, 3 },
            WillQualityOfServiceLevel = MqttQualityOfServiceLevel.ExactlyOnce,
            WillRetain = true,
            UserName = "user",
            Password = [9, 8],
        };
        var decoded = Codec.DecodeOne(Codec.Encode(MqttPacket.FromConnect(original))).Connect;
        Assert.Equal(original.ClientId, decoded.ClientId);
        Assert.False(decoded.CleanSession);
        Assert.Equal(30, decoded.KeepAliveSeconds);
        Assert.Equal("w/t", decoded.WillTopic);
        Assert.Equal(new byte[] { 1, 2, 3 }, decoded.WillPayload.ToArray());
        Assert.Equal(MqttQualityOfServiceLevel.ExactlyOnce, decoded.WillQualityOfServiceLevel);
        Assert.True(decoded.WillRetain);
        Assert.Equal("user", decoded.UserName);
        Assert.Equal(new byte[] { 9, 8 }, decoded.Password);
    }

    [Fact]
    public void Several_packets_in_one_buffer_decode_one_after_another()
    {
        var all = new List<byte>();
        var names = new List<string>();
        foreach (var (name, packet) in SamplePackets.All())
        {
            all.AddRange(Codec.Encode(packet));
            names.Add(name);
        }
        var input = Segments.Split(all.ToArray(), 5);
        var reader = new SequenceReader<byte>(input);
        var count = 0;
        while (MqttV311Decoder.TryRead(ref reader, Codec.Unlimited, out _)) count++;
        Assert.Equal(names.Count, count);
        Assert.Equal(0, reader.Remaining);
    }

    [Theory]
    [InlineData(0, "00")]
    [InlineData(127, "7F")]
    [InlineData(128, "8001")]
    [InlineData(16_383, "FF7F")]
    [InlineData(16_384, "808001")]
    [InlineData(2_097_151, "FFFF7F")]
    [InlineData(2_097_152, "80808001")]
    [InlineData(268_435_455, "FFFFFF7F")]
    public void Variable_byte_integers_match_the_spec_table(int value, string hex)
    {
        var span = new byte[4];
        var length = MqttV311Encoder.WriteVariableByteInteger(span, value);
        Assert.Equal(hex, Convert.ToHexString(span, 0, length));
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(span, 0, length));
        Assert.True(MqttV311Decoder.TryReadVariableByteInteger(ref reader, out var decoded, out var count));
        Assert.Equal(value, decoded);
        Assert.Equal(length, count);
    }

    [Fact]
    public void Encoder_refuses_a_packet_identifier_of_zero_for_qos_1()
    {
        var writer = new ArrayBufferWriter<byte>();
        Assert.Throws<ArgumentOutOfRangeException>(() => MqttV311Encoder.WritePublish(writer, "a", ReadOnlySequence<byte>.Empty, MqttQualityOfServiceLevel.AtLeastOnce, false, false, 0));
    }
}
