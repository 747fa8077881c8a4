using System.Text;

namespace Campus.Contracts.Tests;

public sealed class PayloadReaderTests
{
    private static readonly DeviceTopic EnergyTelemetry = DeviceTopic.Telemetry("s01", "r101", DeviceKind.Energy, "m1");
    private static readonly DeviceTopic DoorEvents = DeviceTopic.Event("s01", "r101", DeviceKind.Door, "s01-r101-door");

    private static byte[] U(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public void Contracts_document_still_holds_every_example_these_tests_use()
    {
        var doc = DocExamples.ReadContractsDocument().Replace("\r\n", "\n", StringComparison.Ordinal);
        foreach (var example in DocExamples.All)
        {
            Assert.True(doc.Contains(example, StringComparison.Ordinal), $"docs/contracts.md no longer contains: {example}");
        }
    }

    [Fact]
    public void Documented_telemetry_example_parses_with_every_value()
    {
        var r = PayloadReader.ReadTelemetry(U(DocExamples.Telemetry));
        Assert.True(r.IsValid, r.Message);
        var t = r.Value;
        Assert.Equal((1, 3u, 1042u, 1764144000000L), (t.V, t.Boot, t.Seq, t.Ts));
        Assert.Equal(1234.567, t.EnergyKwh);
        Assert.Equal(812.5, t.PowerW);
        Assert.Equal(229.8, t.VoltageV);
        Assert.Equal(3.54, t.CurrentA);
        Assert.Equal(0.98, t.PowerFactor);
        Assert.Equal(22.4, t.TemperatureC);
        Assert.Equal(41.2, t.HumidityPct);
        Assert.True(t.Occupied);
        Assert.Same(t.GetType(), PayloadReader.Read(EnergyTelemetry, U(DocExamples.Telemetry)).Value!.GetType());
    }

    [Fact]
    public void Documented_maker_status_will_ack_and_event_examples_parse()
    {
        var maker = PayloadReader.Read(DeviceTopic.Telemetry("s02", "lab1", DeviceKind.Maker, "s02-lab1-kit07"), U(DocExamples.Maker));
        var m = Assert.IsType<MakerReading>(maker.Value);
        Assert.Equal("p-2026-0042", m.Project);
        Assert.Equal(new Dictionary<string, double> { ["soil"] = 512, ["temperatureC"] = 22.1, ["light"] = 730 }, m.Readings);

        var status = PayloadReader.ReadStatus(U(DocExamples.Status));
        Assert.True(status.IsValid, status.Message);
        Assert.Equal(new DeviceStatus { Boot = 3, Seq = 1, Ts = 1764144000000, State = DeviceState.Online, Fw = "1.4.0", UptimeS = 12, Rssi = -61, Dropped = 0 }, status.Value);
        Assert.False(status.Value.IsLastWill);

        var will = PayloadReader.ReadStatus(U(DocExamples.LastWill));
        Assert.True(will.IsValid, will.Message);
        Assert.True(will.Value.IsLastWill);
        Assert.Equal(DeviceState.Offline, will.Value.State);
        Assert.Equal(DocExamples.LastWill, Encoding.UTF8.GetString(DeviceStatus.LastWillUtf8));

        var ack = PayloadReader.ReadCommandAck(U(DocExamples.Ack));
        Assert.True(ack.IsValid, ack.Message);
        Assert.Equal(new CommandAck { Boot = 3, Seq = 58, Ts = 1764144000100, Id = "c-7f3a", Ok = true, Error = null }, ack.Value);
        Assert.Equal(DocExamples.Ack, Encoding.UTF8.GetString(PayloadWriter.Write(ack.Value)));

        var access = PayloadReader.Read(DoorEvents, U(DocExamples.SignedAccess));
        var a = Assert.IsType<AccessEvent>(access.Value);
        Assert.Equal(new AccessEvent
        {
            Boot = 3, Seq = 57, Ts = 1764144000000, Req = "a9", Card = "04A1B2C3",
            Result = AccessResult.Granted, Reason = AccessReason.Ok, Source = DecisionSource.Controller, Sig = "q0...=",
        }, a);
        Assert.Equal(EventType.Access, a.Type);
    }

    [Fact]
    public void Documented_command_fragments_parse_inside_a_command()
    {
        var allowlist = PayloadReader.ReadCommand(U(DocExamples.Command($"\"version\":7,\"tzOffsetMin\":480,\"entries\":{DocExamples.AllowlistEntries}")), CommandNames.Allowlist, DeviceKind.Door);
        var al = Assert.IsType<AllowlistCommand>(allowlist.Value);
        Assert.Equal(("c-7f3a", 1764144000000L, 7, 480), (al.Id, al.Ts, al.Version, al.TzOffsetMin));
        Assert.Equal(new AccessWindow { Days = "12345", From = "07:00", To = "18:00" }, Assert.Single(Assert.Single(al.Entries).Windows));

        var timetable = PayloadReader.ReadCommand(U(DocExamples.Command($"\"date\":\"2026-11-26\",\"room\":\"Room 101\",\"lessons\":{DocExamples.Lessons}")), CommandNames.Timetable, DeviceKind.Sign);
        var tt = Assert.IsType<TimetableCommand>(timetable.Value);
        Assert.Equal(new Lesson { Id = "2026-11-26/3", Period = 3, From = "10:00", To = "10:45", Subject = "Physics", Teacher = "Li Wei", Class = "8B" }, Assert.Single(tt.Lessons));

        var notices = PayloadReader.ReadCommand(U(DocExamples.Command($"\"items\":{DocExamples.NoticeItems}")), CommandNames.Notices, DeviceKind.Sign);
        Assert.Equal(new Notice { Text = "...", Until = 1764150000000 }, Assert.Single(Assert.IsType<NoticesCommand>(notices.Value).Items));

        var config = PayloadReader.ReadCommand(U(DocExamples.Command($"\"heartbeatS\":60,\"publishS\":10,\"sensors\":{DocExamples.Sensors},\"rules\":{DocExamples.SensorRules}")), CommandNames.Config, DeviceKind.Maker);
        var c = Assert.IsType<ConfigCommand>(config.Value);
        Assert.Equal(new SensorConfig { Name = "soil", Type = "adc", Pin = 34 }, Assert.Single(c.Sensors!));
        Assert.Equal(new RuleConfig { Sensor = "soil", Above = 600 }, Assert.Single(c.Rules!));
        Assert.Equal(60, c.HeartbeatS);
    }

    [Fact]
    public void Payload_of_exactly_8_KiB_is_read_and_one_byte_more_is_oversize_before_any_parsing()
    {
        var head = "{\"v\":1,\"boot\":1,\"seq\":1,\"ts\":0,\"pad\":\"";
        var exact = head + new string('x', PayloadReader.MaxPayloadBytes - head.Length - 2) + "\"}";
        Assert.Equal(PayloadReader.MaxPayloadBytes, exact.Length);
        Assert.True(PayloadReader.ReadTelemetry(U(exact)).IsValid);

        var over = PayloadReader.ReadTelemetry(U(exact.Insert(head.Length, "x")));
        Assert.Equal(PayloadRejection.Oversize, over.Rejection);
        Assert.Contains("8193 bytes", over.Message, StringComparison.Ordinal);

        // Size comes first: 9000 bytes of garbage are oversize, not malformed.
        Assert.Equal(PayloadRejection.Oversize, PayloadReader.Read(DoorEvents, new byte[9000]).Rejection);
        Assert.Equal(PayloadRejection.Oversize, PayloadReader.Read(DeviceTopic.Telemetry("s", "r", DeviceKind.Door, "d"), new byte[9000]).Rejection);
    }

    [Fact]
    public void Commands_may_be_larger_than_8_KiB_up_to_the_command_limit()
    {
        var entries = string.Join(",", Enumerable.Range(0, 300).Select(i => $"{{\"card\":\"{i:X8}\",\"windows\":[{{\"days\":\"12345\",\"from\":\"07:00\",\"to\":\"18:00\"}}]}}"));
        var json = DocExamples.Command($"\"version\":1,\"tzOffsetMin\":480,\"entries\":[{entries}]");
        Assert.True(json.Length > PayloadReader.MaxPayloadBytes);
        var r = PayloadReader.ReadCommand(U(json), CommandNames.Allowlist, DeviceKind.Door);
        Assert.True(r.IsValid, r.Message);
        Assert.Equal(300, ((AllowlistCommand)r.Value).Entries.Count);
        Assert.Equal(PayloadRejection.Oversize, PayloadReader.ReadCommand(new byte[PayloadReader.MaxCommandBytes + 1], CommandNames.Allowlist).Rejection);
    }

    public static TheoryData<string, string, PayloadRejection, string?> CraftedTelemetry => new()
    {
        { "empty", "", PayloadRejection.Empty, null },
        { "truncated", """{"v":1,"boot":3""", PayloadRejection.MalformedJson, null },
        { "trailing garbage", """{"v":1,"boot":3,"seq":1,"ts":0}x""", PayloadRejection.MalformedJson, null },
        { "two documents", """{"v":1,"boot":3,"seq":1,"ts":0}{}""", PayloadRejection.MalformedJson, null },
        { "NaN literal", """{"v":1,"boot":3,"seq":1,"ts":0,"powerW":NaN}""", PayloadRejection.MalformedJson, null },
        { "comment", """{"v":1,"boot":3,"seq":1,"ts":0/*x*/}""", PayloadRejection.MalformedJson, null },
        { "single quotes", """{'v':1}""", PayloadRejection.MalformedJson, null },
        { "trailing comma", """{"v":1,"boot":3,"seq":1,"ts":0,}""", PayloadRejection.MalformedJson, null },
        { "too deep", """{"v":1,"boot":3,"seq":1,"ts":0,"x":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}""", PayloadRejection.MalformedJson, null },
        { "array document", """[1,2]""", PayloadRejection.WrongType, null },
        { "string document", "\"v\"", PayloadRejection.WrongType, null },
        { "power as string", """{"v":1,"boot":3,"seq":1,"ts":0,"powerW":"812"}""", PayloadRejection.WrongType, "powerW" },
        { "occupied as number", """{"v":1,"boot":3,"seq":1,"ts":0,"occupied":1}""", PayloadRejection.WrongType, "occupied" },
        { "seq with fraction", """{"v":1,"boot":3,"seq":1.5,"ts":0}""", PayloadRejection.WrongType, "seq" },
        { "v as string", """{"v":"1","boot":3,"seq":1,"ts":0}""", PayloadRejection.WrongType, "v" },
        { "seq missing", """{"v":1,"boot":3,"ts":0}""", PayloadRejection.MissingField, "seq" },
        { "seq null", """{"v":1,"boot":3,"seq":null,"ts":0}""", PayloadRejection.MissingField, "seq" },
        { "v missing", """{"boot":3,"seq":1,"ts":0}""", PayloadRejection.MissingField, "v" },
        { "seq twice", """{"v":1,"boot":3,"seq":1,"seq":2,"ts":0}""", PayloadRejection.DuplicateField, "seq" },
        { "version 2", """{"v":2,"boot":3,"seq":1,"ts":0,"kw":1}""", PayloadRejection.UnknownVersion, "v" },
        { "version 0", """{"v":0,"boot":3,"seq":1,"ts":0}""", PayloadRejection.UnknownVersion, "v" },
        { "negative power", """{"v":1,"boot":3,"seq":1,"ts":0,"powerW":-0.5}""", PayloadRejection.OutOfRange, "powerW" },
        { "humidity over 100", """{"v":1,"boot":3,"seq":1,"ts":0,"humidityPct":100.5}""", PayloadRejection.OutOfRange, "humidityPct" },
        { "infinite energy", """{"v":1,"boot":3,"seq":1,"ts":0,"energyKwh":1e400}""", PayloadRejection.OutOfRange, "energyKwh" },
        { "power factor", """{"v":1,"boot":3,"seq":1,"ts":0,"powerFactor":1.2}""", PayloadRejection.OutOfRange, "powerFactor" },
        { "negative boot", """{"v":1,"boot":-1,"seq":1,"ts":0}""", PayloadRejection.OutOfRange, "boot" },
        { "boot over uint32", """{"v":1,"boot":4294967296,"seq":1,"ts":0}""", PayloadRejection.OutOfRange, "boot" },
        { "seq zero", """{"v":1,"boot":3,"seq":0,"ts":0}""", PayloadRejection.OutOfRange, "seq" },
        { "negative ts", """{"v":1,"boot":3,"seq":1,"ts":-5}""", PayloadRejection.OutOfRange, "ts" },
    };

    [Theory]
    [MemberData(nameof(CraftedTelemetry))]
    public void Crafted_telemetry_is_rejected_with_its_reason_and_field(string what, string json, PayloadRejection reason, string? field)
    {
        var r = PayloadReader.Read(EnergyTelemetry, U(json));
        Assert.False(r.IsValid, what);
        Assert.Null(r.Value);
        Assert.Equal(reason, r.Rejection);
        Assert.Equal(field, r.Field);
        Assert.False(string.IsNullOrWhiteSpace(r.Message));
        if (field is not null)
        {
            Assert.Contains($"'{field}'", r.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Invalid_utf8_is_malformed()
    {
        byte[] payload = [.. "{\"v\":1,\"boot\":3,\"seq\":1,\"ts\":0,\"x\":\""u8, 0xC3, 0x28, .. "\"}"u8];
        Assert.Equal(PayloadRejection.MalformedJson, PayloadReader.ReadTelemetry(payload).Rejection);
    }

    public static TheoryData<string, DeviceKind, string, PayloadRejection, string?> CraftedEvents => new()
    {
        { "unknown type", DeviceKind.Door, """{"v":1,"boot":1,"seq":1,"ts":0,"type":"explode"}""", PayloadRejection.UnknownType, "type" },
        { "type missing", DeviceKind.Door, """{"v":1,"boot":1,"seq":1,"ts":0,"card":"04A1B2C3"}""", PayloadRejection.MissingField, "type" },
        { "type as number", DeviceKind.Door, """{"v":1,"boot":1,"seq":1,"ts":0,"type":3}""", PayloadRejection.WrongType, "type" },
        { "access without card", DeviceKind.Door, """{"v":1,"boot":1,"seq":1,"ts":0,"type":"access","req":"","result":"denied","reason":"unknown-card","source":"cache"}""", PayloadRejection.MissingField, "card" },
        { "lower-case card", DeviceKind.Door, """{"v":1,"boot":1,"seq":1,"ts":0,"type":"access-request","req":"a1","card":"04a1b2c3"}""", PayloadRejection.OutOfRange, "card" },
        { "card of 10 digits", DeviceKind.Door, """{"v":1,"boot":1,"seq":1,"ts":0,"type":"access-request","req":"a1","card":"04A1B2C3D4"}""", PayloadRejection.OutOfRange, "card" },
        { "unknown reason", DeviceKind.Door, """{"v":1,"boot":1,"seq":1,"ts":0,"type":"access","req":"a1","card":"04A1B2C3","result":"granted","reason":"bribe","source":"cache"}""", PayloadRejection.OutOfRange, "reason" },
        { "held-open stage", DeviceKind.Door, """{"v":1,"boot":1,"seq":1,"ts":0,"type":"held-open","stage":"panic","openS":30}""", PayloadRejection.OutOfRange, "stage" },
        { "held-open negative", DeviceKind.Door, """{"v":1,"boot":1,"seq":1,"ts":0,"type":"held-open","stage":"alarm","openS":-3}""", PayloadRejection.OutOfRange, "openS" },
        { "door event from energy meter", DeviceKind.Energy, """{"v":1,"boot":1,"seq":1,"ts":0,"type":"door","state":"open"}""", PayloadRejection.WrongKind, "type" },
        { "checkin from door", DeviceKind.Door, """{"v":1,"boot":1,"seq":1,"ts":0,"type":"checkin","card":"04A1B2C3","lesson":"l1"}""", PayloadRejection.WrongKind, "type" },
        { "milestone without project", DeviceKind.Maker, """{"v":1,"boot":1,"seq":1,"ts":0,"type":"milestone","milestone":"first-data"}""", PayloadRejection.MissingField, "project" },
    };

    [Theory]
    [MemberData(nameof(CraftedEvents))]
    public void Crafted_events_are_rejected_with_their_reason_and_field(string what, DeviceKind kind, string json, PayloadRejection reason, string? field)
    {
        var r = PayloadReader.ReadEvent(U(json), kind);
        Assert.False(r.IsValid, what);
        Assert.Equal(reason, r.Rejection);
        Assert.Equal(field, r.Field);
        Assert.Contains($"'{field}'", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_event_type_is_read_from_the_kinds_that_send_it()
    {
        (DeviceKind Kind, string Json, Type Type)[] cases =
        [
            (DeviceKind.Door, """{"v":1,"boot":1,"seq":1,"ts":5,"type":"access-request","req":"r-1","card":"04A1B2C3D4E5F6"}""", typeof(AccessRequestEvent)),
            (DeviceKind.Door, """{"v":1,"boot":1,"seq":2,"ts":5,"type":"access","req":"","card":"04A1B2C3","result":"denied","reason":"outside-schedule","source":"cache"}""", typeof(AccessEvent)),
            (DeviceKind.Door, """{"v":1,"boot":1,"seq":3,"ts":5,"type":"door","state":"closed"}""", typeof(DoorEvent)),
            (DeviceKind.Door, """{"v":1,"boot":1,"seq":4,"ts":5,"type":"rex"}""", typeof(RexEvent)),
            (DeviceKind.Door, """{"v":1,"boot":1,"seq":5,"ts":5,"type":"forced"}""", typeof(ForcedEvent)),
            (DeviceKind.Door, """{"v":1,"boot":1,"seq":6,"ts":5,"type":"held-open","stage":"pre-alarm","openS":30}""", typeof(HeldOpenEvent)),
            (DeviceKind.Env, """{"v":1,"boot":1,"seq":7,"ts":5,"type":"tamper","state":"open"}""", typeof(TamperEvent)),
            (DeviceKind.Sign, """{"v":1,"boot":1,"seq":8,"ts":5,"type":"checkin","card":"04A1B2C3","lesson":"2026-11-26/3"}""", typeof(CheckinEvent)),
            (DeviceKind.Maker, """{"v":1,"boot":1,"seq":9,"ts":5,"type":"milestone","project":"p-1","milestone":"rule-triggered","detail":"soil above 600"}""", typeof(MilestoneEvent)),
            (DeviceKind.Door, """{"type":"rex","ts":5,"seq":10,"boot":1,"v":1,"extra":{"ignored":[1,2]}}""", typeof(RexEvent)),
        ];
        foreach (var (kind, json, type) in cases)
        {
            var r = PayloadReader.ReadEvent(U(json), kind);
            Assert.True(r.IsValid, $"{json}: {r.Message}");
            Assert.IsType(type, r.Value);
        }
    }

    public static TheoryData<string, string, DeviceKind, string, PayloadRejection, string?> CraftedCommands => new()
    {
        { "unknown command", "reboot", DeviceKind.Door, "", PayloadRejection.UnknownType, null },
        { "timetable to a door", CommandNames.Timetable, DeviceKind.Door, "\"date\":\"2026-11-26\",\"room\":\"R\",\"lessons\":[]", PayloadRejection.WrongKind, null },
        { "grant missing", CommandNames.Access, DeviceKind.Door, "\"req\":\"a1\",\"card\":\"04A1B2C3\",\"reason\":\"ok\"", PayloadRejection.MissingField, "grant" },
        { "strike time zero", CommandNames.Access, DeviceKind.Door, "\"req\":\"a1\",\"card\":\"04A1B2C3\",\"grant\":true,\"reason\":\"ok\",\"openMs\":0", PayloadRejection.OutOfRange, "openMs" },
        { "empty window", CommandNames.Allowlist, DeviceKind.Door, "\"version\":1,\"tzOffsetMin\":480,\"entries\":[{\"card\":\"04A1B2C3\",\"windows\":[{\"days\":\"12345\",\"from\":\"07:00\",\"to\":\"07:00\"}]}]", PayloadRejection.OutOfRange, "entries[0].windows[0].to" },
        { "lesson ends before it starts", CommandNames.Timetable, DeviceKind.Sign, "\"date\":\"2026-02-03\",\"room\":\"R\",\"lessons\":[{\"id\":\"l\",\"period\":1,\"from\":\"08:45\",\"to\":\"08:00\",\"subject\":\"Art\"}]", PayloadRejection.OutOfRange, "lessons[0].to" },
        { "day 8", CommandNames.Allowlist, DeviceKind.Door, "\"version\":1,\"tzOffsetMin\":480,\"entries\":[{\"card\":\"04A1B2C3\",\"windows\":[]},{\"card\":\"04A1B2C4\",\"windows\":[{\"days\":\"18\",\"from\":\"07:00\",\"to\":\"08:00\"}]}]", PayloadRejection.MissingField, "entries[0].windows" },
        { "bad card in entry 1", CommandNames.Allowlist, DeviceKind.Door, "\"version\":1,\"tzOffsetMin\":480,\"entries\":[{\"card\":\"04A1B2C3\",\"windows\":[{\"days\":\"7\",\"from\":\"07:00\",\"to\":\"08:00\"}]},{\"card\":\"xyz\",\"windows\":[]}]", PayloadRejection.OutOfRange, "entries[1].card" },
        { "window time", CommandNames.Allowlist, DeviceKind.Door, "\"version\":1,\"tzOffsetMin\":480,\"entries\":[{\"card\":\"04A1B2C3\",\"windows\":[{\"days\":\"1\",\"from\":\"7:00\",\"to\":\"08:00\"}]}]", PayloadRejection.OutOfRange, "entries[0].windows[0].from" },
        { "nested wrong type", CommandNames.Allowlist, DeviceKind.Door, "\"version\":1,\"tzOffsetMin\":480,\"entries\":[{\"card\":7}]", PayloadRejection.WrongType, "entries[0].card" },
        { "bad date", CommandNames.Timetable, DeviceKind.Sign, "\"date\":\"2026-02-30\",\"room\":\"R\",\"lessons\":[]", PayloadRejection.OutOfRange, "date" },
        { "period 0", CommandNames.Timetable, DeviceKind.Sign, "\"date\":\"2026-02-03\",\"room\":\"R\",\"lessons\":[{\"id\":\"l\",\"period\":0,\"from\":\"08:00\",\"to\":\"08:45\",\"subject\":\"Art\"}]", PayloadRejection.OutOfRange, "lessons[0].period" },
        { "heartbeat 1 s", CommandNames.Config, DeviceKind.Energy, "\"heartbeatS\":1", PayloadRejection.OutOfRange, "heartbeatS" },
        { "unlock by nobody", CommandNames.Unlock, DeviceKind.Door, "\"openMs\":3000", PayloadRejection.MissingField, "by" },
    };

    [Theory]
    [MemberData(nameof(CraftedCommands))]
    public void Crafted_commands_are_rejected_with_their_reason_and_field(string what, string name, DeviceKind kind, string members, PayloadRejection reason, string? field)
    {
        var json = members.Length == 0 ? DocExamples.CommandEnvelope.TrimEnd(',') + "}" : DocExamples.Command(members);
        var r = PayloadReader.ReadCommand(U(json), name, kind);
        Assert.False(r.IsValid, what);
        Assert.Equal(reason, r.Rejection);
        Assert.Equal(field, r.Field);
        Assert.False(string.IsNullOrWhiteSpace(r.Message));
        if (field is not null)
        {
            Assert.Contains($"'{field}'", r.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Status_without_boot_is_only_valid_as_the_offline_will()
    {
        Assert.Equal("boot", PayloadReader.ReadStatus(U("""{"v":1,"state":"online"}""")).Field);
        Assert.Equal(PayloadRejection.MissingField, PayloadReader.ReadStatus(U("""{"v":1,"boot":2,"state":"offline"}""")).Rejection);
        Assert.Equal(PayloadRejection.OutOfRange, PayloadReader.ReadStatus(U("""{"v":1,"state":"sleeping"}""")).Rejection);
        Assert.Equal("rssi", PayloadReader.ReadStatus(U("""{"v":1,"boot":1,"seq":1,"ts":0,"state":"online","rssi":12}""")).Field);
    }

    [Fact]
    public void Telemetry_is_wrong_for_doors_and_signs()
    {
        var r = PayloadReader.Read(DeviceTopic.Telemetry("s01", "r101", DeviceKind.Door, "d1"), U(DocExamples.Telemetry));
        Assert.Equal(PayloadRejection.WrongKind, r.Rejection);
        Assert.Equal(PayloadRejection.WrongKind, PayloadReader.Read(DeviceTopic.Telemetry("s01", "r101", DeviceKind.Sign, "g1"), U(DocExamples.Telemetry)).Rejection);
        // Maker telemetry has its own shape.
        Assert.Equal(PayloadRejection.MissingField, PayloadReader.Read(DeviceTopic.Telemetry("s01", "lab", DeviceKind.Maker, "k1"), U(DocExamples.Telemetry)).Rejection);
    }

    [Fact]
    public void Maker_readings_must_be_finite_numbers_with_simple_names()
    {
        var infinite = PayloadReader.ReadMakerReading(U("""{"v":1,"boot":1,"seq":1,"ts":0,"project":"p","readings":{"soil":1e999}}"""));
        Assert.Equal((PayloadRejection.OutOfRange, "readings.soil"), (infinite.Rejection, infinite.Field));
        var text = PayloadReader.ReadMakerReading(U("""{"v":1,"boot":1,"seq":1,"ts":0,"project":"p","readings":{"soil":"wet"}}"""));
        Assert.Equal((PayloadRejection.WrongType, "readings.soil"), (text.Rejection, text.Field));
        var name = PayloadReader.ReadMakerReading(U("""{"v":1,"boot":1,"seq":1,"ts":0,"project":"p","readings":{"so il":1}}"""));
        Assert.Equal((PayloadRejection.OutOfRange, "readings"), (name.Rejection, name.Field));
    }

    [Fact]
    public void Escaped_member_names_and_values_are_understood()
    {
        var r = PayloadReader.ReadEvent(U("""{"\u0076":1,"boot":1,"seq":1,"ts":0,"type":"\u0072ex"}"""), DeviceKind.Door);
        Assert.True(r.IsValid, r.Message);
        Assert.IsType<RexEvent>(r.Value);
    }

    [Fact]
    public void Every_prefix_and_seeded_single_byte_corruption_of_the_examples_is_answered_without_throwing()
    {
        var seed = Environment.TickCount;
        var random = new Random(seed);
        (DeviceTopic Topic, string Json)[] examples =
        [
            (EnergyTelemetry, DocExamples.Telemetry),
            (DeviceTopic.Telemetry("s02", "lab1", DeviceKind.Maker, "k7"), DocExamples.Maker),
            (DeviceTopic.Status("s01", "r101", DeviceKind.Sign, "g1"), DocExamples.Status),
            (DeviceTopic.Status("s01", "r101", DeviceKind.Sign, "g1"), DocExamples.LastWill),
            (DoorEvents, DocExamples.SignedAccess),
            (DeviceTopic.CommandAck("s01", "r101", DeviceKind.Door, "d1", "access"), DocExamples.Ack),
            (DeviceTopic.Command("s01", "r101", DeviceKind.Door, "d1", "allowlist"), DocExamples.Command($"\"version\":7,\"tzOffsetMin\":480,\"entries\":{DocExamples.AllowlistEntries}")),
            (DeviceTopic.Command("s01", "r101", DeviceKind.Sign, "g1", "timetable"), DocExamples.Command($"\"date\":\"2026-11-26\",\"room\":\"R\",\"lessons\":{DocExamples.Lessons}")),
        ];
        var rejected = 0;
        foreach (var (topic, json) in examples)
        {
            var bytes = U(json);
            Assert.True(PayloadReader.Read(topic, bytes).IsValid, $"{json} should be valid");
            for (var n = 0; n < bytes.Length; n++)
            {
                var r = PayloadReader.Read(topic, bytes.AsSpan(0, n));
                Assert.False(r.IsValid, $"seed {seed}: prefix of {n} bytes of {json} was accepted");
                Assert.NotEqual("", r.Message);
            }
            for (var i = 0; i < bytes.Length; i++)
            {
                for (var k = 0; k < 4; k++)
                {
                    var copy = (byte[])bytes.Clone();
                    copy[i] = (byte)random.Next(256);
                    var r = PayloadReader.Read(topic, copy);
                    Assert.True(r.IsValid == (r.Rejection == PayloadRejection.None), $"seed {seed}");
                    Assert.True(r.IsValid || r.Message.Length > 0, $"seed {seed}: rejected without a message");
                    rejected += r.IsValid ? 0 : 1;
                }
            }
        }
        Assert.True(rejected > 0, $"seed {seed}: no corruption was rejected");
    }
}

public sealed class PayloadReaderEdgeTests
{
    [Fact]
    public void A_default_topic_or_an_undefined_kind_is_answered_with_a_rejection_not_an_exception()
    {
        var telemetry = Encoding.UTF8.GetBytes(DocExamples.Telemetry);
        Assert.Equal(PayloadRejection.WrongKind, PayloadReader.Read(default, telemetry).Rejection);
        var rex = """{"v":1,"boot":1,"seq":1,"ts":0,"type":"rex"}"""u8;
        Assert.Equal(PayloadRejection.WrongKind, PayloadReader.ReadEvent(rex, (DeviceKind)42).Rejection);
        Assert.Equal(PayloadRejection.WrongKind, PayloadReader.ReadCommand("""{"v":1,"id":"c","ts":0,"by":"x"}"""u8, CommandNames.Unlock, (DeviceKind)42).Rejection);
    }
}
