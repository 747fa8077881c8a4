using System.Buffers;
using Campus.Mqtt.Protocol;
using Campus.Mqtt.Protocol.V311;

namespace Campus.Mqtt.Tests.Codec;

/// <summary>Helpers to encode and decode whole byte arrays.</summary>
internal static class Codec
{
    public const int Unlimited = MqttV311Decoder.MaximumPacketSize;

    public static byte[] Encode(in MqttPacket packet)
    {
        var writer = new ArrayBufferWriter<byte>();
        MqttV311Encoder.Write(writer, packet);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Decodes exactly one packet that fills the whole input and re-encodes it.</summary>
    public static byte[] DecodeAndReencode(ReadOnlySequence<byte> input, out MqttPacket packet)
    {
        var reader = new SequenceReader<byte>(input);
        Assert.True(MqttV311Decoder.TryRead(ref reader, Unlimited, out packet), "a whole packet must decode");
        Assert.Equal(input.Length, reader.Consumed);
        return Encode(packet);
    }

    public static MqttPacket DecodeOne(byte[] bytes, int maximumPacketSize = Unlimited)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        if (!MqttV311Decoder.TryRead(ref reader, maximumPacketSize, out var packet))
            throw new InvalidOperationException($"Incomplete: {Convert.ToHexString(bytes)}");
        return packet;
    }

    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));
}
