namespace Campus.Mqtt;

/// <summary>The return code of one topic filter in a SUBACK packet (MQTT 3.1.1, section 3.9.3).</summary>
public enum MqttSubscribeReturnCode : byte
{
    GrantedQoS0 = 0,
    GrantedQoS1 = 1,
    GrantedQoS2 = 2,
    Failure = 0x80,
}
