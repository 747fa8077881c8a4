using System.Text;

namespace Campus.Contracts.Tests;

public sealed class RoundTripTests
{
    private const long Ts = 1764144000000;

    public static TheoryData<DeviceTopic, IContractPayload> Payloads => new()
    {
        { DeviceTopic.Telemetry("s01", "r101", DeviceKind.Energy, "m1"), new Telemetry { Boot = 3, Seq = 1042, Ts = Ts, EnergyKwh = 1234.567, PowerW = 812.5, VoltageV = 229.8, CurrentA = 3.54, PowerFactor = 0.98, TemperatureC = -4.5, HumidityPct = 100, Occupied = false } },
        { DeviceTopic.Telemetry("s01", "r101", DeviceKind.Env, "e1"), new Telemetry { Boot = 1, Seq = 1, Ts = 0, TemperatureC = 22.4 } },
        { DeviceTopic.Telemetry("s02", "lab1", DeviceKind.Maker, "k7"), new MakerReading { Boot = 1, Seq = 88, Ts = Ts, Project = "p-2026-0042", Readings = new Dictionary<string, double> { ["soil"] = 512, ["temperatureC"] = 22.1 } } },
        { DeviceTopic.Status("s01", "r101", DeviceKind.Sign, "g1"), new DeviceStatus { Boot = 3, Seq = 1, Ts = Ts, State = DeviceState.Online, Fw = "1.4.0", UptimeS = 12, Rssi = -61, Dropped = 4 } },
        { DeviceTopic.Status("s01", "r101", DeviceKind.Sign, "g1"), new DeviceStatus { State = DeviceState.Offline } },
        { DeviceTopic.Event("s01", "r101", DeviceKind.Door, "d1"), new AccessRequestEvent { Boot = 3, Seq = 56, Ts = Ts, Req = "a9", Card = "04A1B2C3D4E5F6" } },
        { DeviceTopic.Event("s01", "r101", DeviceKind.Door, "d1"), new AccessEvent { Boot = 3, Seq = 57, Ts = Ts, Req = "", Card = "04A1B2C3", Result = AccessResult.Denied, Reason = AccessReason.CardBlocked, Source = DecisionSource.Cache } },
        { DeviceTopic.Event("s01", "r101", DeviceKind.Door, "d1"), new DoorEvent { Boot = 3, Seq = 58, Ts = Ts, State = ContactState.Open } },
        { DeviceTopic.Event("s01", "r101", DeviceKind.Door, "d1"), new RexEvent { Boot = 3, Seq = 59, Ts = Ts } },
        { DeviceTopic.Event("s01", "r101", DeviceKind.Door, "d1"), new ForcedEvent { Boot = 3, Seq = 60, Ts = Ts } },
        { DeviceTopic.Event("s01", "r101", DeviceKind.Door, "d1"), new HeldOpenEvent { Boot = 3, Seq = 61, Ts = Ts, Stage = HeldOpenStage.PreAlarm, OpenS = 45 } },
        { DeviceTopic.Event("s01", "r101", DeviceKind.Sign, "g1"), new TamperEvent { Boot = 3, Seq = 62, Ts = Ts, State = ContactState.Closed } },
        { DeviceTopic.Event("s01", "r101", DeviceKind.Sign, "g1"), new CheckinEvent { Boot = 3, Seq = 63, Ts = Ts, Card = "04A1B2C3", Lesson = "2026-11-26/3" } },
        { DeviceTopic.Event("s02", "lab1", DeviceKind.Maker, "k7"), new MilestoneEvent { Boot = 3, Seq = 64, Ts = Ts, Project = "p-1", Milestone = MilestoneKind.SensorAdded, Detail = "light" } },
        { DeviceTopic.CommandAck("s01", "r101", DeviceKind.Door, "d1", "access"), new CommandAck { Boot = 3, Seq = 65, Ts = Ts, Id = "c-7f3a", Ok = false, Error = "busy" } },
        { DeviceTopic.Command("s01", "r101", DeviceKind.Door, "d1", "access"), new AccessCommand { Id = "c-1", Ts = Ts, Req = "a9", Card = "04A1B2C3", Grant = true, Reason = AccessReason.Ok, OpenMs = 3000 } },
        { DeviceTopic.Command("s01", "r101", DeviceKind.Door, "d1", "unlock"), new UnlockCommand { Id = "c-2", Ts = Ts, OpenMs = 5000, By = "guard.wang" } },
        { DeviceTopic.Command("s01", "r101", DeviceKind.Sign, "g1", "lockdown"), new LockdownCommand { Id = "c-3", Ts = Ts, Active = true, Message = "Stay in your classroom" } },
        { DeviceTopic.Command("s01", "r101", DeviceKind.Door, "d1", "allowlist"), new AllowlistCommand { Id = "c-4", Ts = Ts, Version = 12, TzOffsetMin = 480, Entries = [new() { Card = "04A1B2C3", Windows = [new() { Days = "12345", From = "07:00", To = "18:00" }, new() { Days = "6", From = "08:00", To = "12:00" }] }] } },
        { DeviceTopic.Command("s01", "r101", DeviceKind.Sign, "g1", "timetable"), new TimetableCommand { Id = "c-5", Ts = Ts, Date = "2026-11-26", Room = "Room 101", Lessons = [new() { Id = "2026-11-26/3", Period = 3, From = "10:00", To = "10:45", Subject = "Physics", Teacher = "Li Wei", Class = "8B" }] } },
        { DeviceTopic.Command("s01", "r101", DeviceKind.Sign, "g1", "notices"), new NoticesCommand { Id = "c-6", Ts = Ts, Items = [new() { Text = "Sports day on Friday", Until = Ts + 86400000 }] } },
        { DeviceTopic.Command("s02", "lab1", DeviceKind.Maker, "k7", "config"), new ConfigCommand { Id = "c-7", Ts = Ts, HeartbeatS = 60, PublishS = 10, Sensors = [new() { Name = "soil", Type = "adc", Pin = 34 }], Rules = [new() { Sensor = "soil", Above = 600, Below = 100 }] } },
        { DeviceTopic.Command("s01", "r101", DeviceKind.Door, "d1", "config"), new ConfigCommand { Id = "c-8", Ts = Ts, OpenMs = 3000, HeldOpenS = 30, HeldAlarmS = 90 } },
        { DeviceTopic.Command("s01", "r101", DeviceKind.Energy, "m1", "config"), new ConfigCommand { Id = "c-9", Ts = Ts, DeltaW = 50, DeltaC = 0.5, ThrottleS = 5 } },
    };

    [Theory]
    [MemberData(nameof(Payloads))]
    public void Every_record_survives_a_write_and_a_validated_read(DeviceTopic topic, IContractPayload payload)
    {
        var json = PayloadWriter.Write(payload);
        var r = PayloadReader.Read(topic, json);
        Assert.True(r.IsValid, $"{Encoding.UTF8.GetString(json)}: {r.Message}");
        Assert.IsType(payload.GetType(), r.Value);
        Assert.Equal(Encoding.UTF8.GetString(json), Encoding.UTF8.GetString(PayloadWriter.Write(r.Value)));
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        PayloadWriter.Write(payload, buffer);
        Assert.Equal(json, buffer.WrittenSpan.ToArray());
        if (payload is not (MakerReading or AllowlistCommand or TimetableCommand or NoticesCommand or ConfigCommand))
        {
            Assert.Equal(payload, r.Value);
        }
    }

    [Fact]
    public void Written_events_put_the_common_members_and_type_first_in_camel_case()
    {
        var json = Encoding.UTF8.GetString(PayloadWriter.Write(new HeldOpenEvent { Boot = 3, Seq = 61, Ts = Ts, Stage = HeldOpenStage.PreAlarm, OpenS = 45 }));
        Assert.Equal("""{"v":1,"boot":3,"seq":61,"ts":1764144000000,"type":"held-open","stage":"pre-alarm","openS":45}""", json);
        var command = Encoding.UTF8.GetString(PayloadWriter.Write(new UnlockCommand { Id = "c-2", Ts = Ts, By = "x" }));
        Assert.Equal("""{"v":1,"id":"c-2","ts":1764144000000,"by":"x"}""", command);
    }

    [Fact]
    public void Writing_an_unknown_enum_value_fails_loudly_instead_of_writing_a_bad_document()
    {
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => PayloadWriter.Write(new DoorEvent { Boot = 1, Seq = 1 }));
    }
}

public sealed class RejectionTagTests
{
    [Fact]
    public void Every_rejection_reason_and_topic_error_has_its_own_kebab_case_tag()
    {
        var payloadTags = Enum.GetValues<PayloadRejection>().Select(r => r.ToTag()).ToArray();
        var topicTags = Enum.GetValues<TopicError>().Where(e => e != TopicError.None).Select(e => e.ToTag()).ToArray();
        Assert.Equal(payloadTags.Length + topicTags.Length, payloadTags.Concat(topicTags).Distinct().Count());
        Assert.All(payloadTags.Concat(topicTags), t => Assert.Matches("^[a-z]+(-[a-z]+)*$", t));
        Assert.DoesNotContain("unknown", payloadTags);
        Assert.DoesNotContain("topic-unknown", topicTags);
        Assert.Equal("malformed-json", PayloadRejection.MalformedJson.ToTag());
    }
}
