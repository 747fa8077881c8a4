using System.Buffers;
using System.Text;
using Campus.Mqtt.Protocol;

namespace Campus.Mqtt.Tests.Codec;

/// <summary>One valid packet of every type, in several shapes.</summary>
internal static class SamplePackets
{
    public static IEnumerable<(string Name, MqttPacket Packet)> All()
    {
        yield return ("CONNECT minimal", MqttPacket.FromConnect(new ConnectPacket { ClientId = "", CleanSession = true }));
        yield return ("CONNECT full", MqttPacket.FromConnect(new ConnectPacket
        {
            ClientId = "gateway-s01 ✓",
            CleanSession = false,
            KeepAliveSeconds = 60,
            WillTopic = "campus/v1/s01/r101/energy/m1/status",
            WillPayload = Encoding.UTF8.GetBytes("offline"),
            WillQualityOfServiceLevel = MqttQualityOfServiceLevel.AtLeastOnce,
            WillRetain = true,
            UserName = "device",
            Password = [0, 1, 2, 255],
        }));
        yield return ("CONNECT user without password", MqttPacket.FromConnect(new ConnectPacket { ClientId = "c", UserName = "u", KeepAliveSeconds = 65535 }));
        yield return ("CONNECT will QoS 2 empty payload", MqttPacket.FromConnect(new ConnectPacket { ClientId = "c", WillTopic = "w", WillQualityOfServiceLevel = MqttQualityOfServiceLevel.ExactlyOnce }));
        yield return ("CONNACK accepted", MqttPacket.FromConnAck(false, MqttConnectReturnCode.Accepted));
        yield return ("CONNACK session present", MqttPacket.FromConnAck(true, MqttConnectReturnCode.Accepted));
        yield return ("CONNACK refused", MqttPacket.FromConnAck(false, MqttConnectReturnCode.BadUserNameOrPassword));
        yield return ("PUBLISH QoS 0", Publish("a/b", "hello", MqttQualityOfServiceLevel.AtMostOnce, false, false, 0));
        yield return ("PUBLISH QoS 0 empty payload retained", Publish("campus/v1/s01/status", "", MqttQualityOfServiceLevel.AtMostOnce, true, false, 0));
        yield return ("PUBLISH QoS 1", Publish("a", "{\"v\":1}", MqttQualityOfServiceLevel.AtLeastOnce, false, false, 1));
        yield return ("PUBLISH QoS 2 dup", Publish("$SYS/x/ü", "payload", MqttQualityOfServiceLevel.ExactlyOnce, true, true, 65535));
        yield return ("PUBLISH large payload", Publish("big", new string('x', 70_000), MqttQualityOfServiceLevel.AtLeastOnce, false, false, 7));
        yield return ("PUBACK", MqttPacket.FromAcknowledgement(MqttPacketType.PubAck, 1));
        yield return ("PUBREC", MqttPacket.FromAcknowledgement(MqttPacketType.PubRec, 300));
        yield return ("PUBREL", MqttPacket.FromAcknowledgement(MqttPacketType.PubRel, 65535));
        yield return ("PUBCOMP", MqttPacket.FromAcknowledgement(MqttPacketType.PubComp, 2));
        yield return ("SUBSCRIBE", MqttPacket.FromSubscribe(new SubscribePacket(10, [
            new MqttTopicFilter("campus/v1/+/+/energy/#", MqttQualityOfServiceLevel.AtLeastOnce),
            new MqttTopicFilter("#", MqttQualityOfServiceLevel.AtMostOnce),
            new MqttTopicFilter("a/+/c", MqttQualityOfServiceLevel.ExactlyOnce),
        ])));
        yield return ("SUBACK", MqttPacket.FromSubAck(new SubAckPacket(10, [
            MqttSubscribeReturnCode.GrantedQoS1, MqttSubscribeReturnCode.GrantedQoS0, MqttSubscribeReturnCode.GrantedQoS2, MqttSubscribeReturnCode.Failure,
        ])));
        yield return ("UNSUBSCRIBE", MqttPacket.FromUnsubscribe(new UnsubscribePacket(11, ["campus/v1/+/+/energy/#", "x"])));
        yield return ("UNSUBACK", MqttPacket.FromAcknowledgement(MqttPacketType.UnsubAck, 11));
        yield return ("PINGREQ", MqttPacket.FromEmpty(MqttPacketType.PingReq));
        yield return ("PINGRESP", MqttPacket.FromEmpty(MqttPacketType.PingResp));
        yield return ("DISCONNECT", MqttPacket.FromEmpty(MqttPacketType.Disconnect));
    }

    public static MqttPacket Publish(string topic, string payload, MqttQualityOfServiceLevel qos, bool retain, bool dup, ushort id) =>
        MqttPacket.FromPublish(new PublishPacket(
            new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(topic)),
            new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(payload)),
            qos, retain, dup, id));

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var (name, _) in All()) data.Add(name);
        return data;
    }

    public static byte[] Bytes(string name)
    {
        foreach (var (n, p) in All())
        {
            if (n == name) return Codec.Encode(p);
        }
        throw new ArgumentException(name);
    }
}
