using System.Text.Json;
using Campus.Firmware.Apps.Sign;
using Campus.Firmware.Drivers;
using Campus.Firmware.Ports;
using Campus.Simulators.Chips;

namespace Campus.Firmware.Tests.Apps;

/// <summary>The class sign firmware over an e-paper model, a card reader model and a real broker.</summary>
public sealed class ClassSignTests
{
    private const string Timetable = """
        {"v":1,"id":"tt-1","date":"2026-11-26","room":"Room 101","tzOffsetMin":480,"lessons":[
         {"id":"2026-11-26/2","period":2,"from":"09:00","to":"09:45","subject":"Maths","teacher":"Wang Fang","class":"8B"},
         {"id":"2026-11-26/3","period":3,"from":"10:00","to":"10:45","subject":"Physics","teacher":"Li Wei","class":"8B"},
         {"id":"2026-11-26/4","period":4,"from":"11:00","to":"11:45","subject":"History","teacher":"Zhao Lei","class":"8B"}]}
        """;

    private sealed class SignRig
    {
        public SignRig(DeviceRig device)
        {
            var board = SignBoard.Esp32Wroom32();
            Gpio = GpioModel.Esp32(device.Clock);
            Gpio.SetInput(board.TamperSwitch, PinValue.Low);
            Panel = new EpaperModel(new SpiConnectionSettings(board.SpiBusId, board.EpdCs), Gpio, device.Clock, board.EpdDc, board.EpdRst, board.EpdBusy);
            Reader = new Mfrc522Model(new SpiConnectionSettings(board.SpiBusId, board.RfidCs));
            var hardware = new SignHardware(Gpio,
                new Ssd1680(Panel, Gpio, device.Clock, board.EpdDc, board.EpdRst, board.EpdBusy),
                new Mfrc522(Reader, device.Clock, Gpio, board.RfidRst))
            {
                BuzzerPin = board.Buzzer,
                StatusLedPin = board.StatusLed,
                TamperPin = board.TamperSwitch,
            };
            App = new ClassSignApp(device.CreateRuntime(), hardware);
        }

        public GpioModel Gpio { get; }
        public EpaperModel Panel { get; }
        public Mfrc522Model Reader { get; }
        public ClassSignApp App { get; }
    }

    /// <summary>Pixels of the panel that differ from <paramref name="text"/> drawn with the firmware's font at the same place.</summary>
    private static int DifferingPixels(EpaperModel panel, int x, int y, int scale, string text)
    {
        var reference = new FrameBuffer(EpaperModel.Width, EpaperModel.Height);
        reference.DrawText(x, y, text, scale, true);
        int height = Font5x7.CellHeight * scale;
        int differing = 0;
        for (int py = y; py < y + height; py++)
            for (int px = 0; px < EpaperModel.Width; px++)
                if (panel.GetPixel(px, py) != reference.GetPixel(px, py)) differing++;
        return differing;
    }

    private static int InkInRows(EpaperModel panel, int y, int height)
    {
        int ink = 0;
        for (int py = y; py < y + height; py++)
            for (int px = 0; px < EpaperModel.Width; px++)
                if (panel.GetPixel(px, py)) ink++;
        return ink;
    }

    [Theory]
    [InlineData(BrokerKind.Mosquitto)]
    [InlineData(BrokerKind.Embedded)]
    public async Task Sign_renders_the_next_then_the_current_lesson_on_the_panel_and_refreshes_only_on_change(BrokerKind kind)
    {
        await using var broker = await BrokerRig.StartAsync(kind);
        await using var device = new DeviceRig("sign", "s01-r101-sign", broker.DeviceClient());
        var sign = new SignRig(device);
        await device.RunAsync(sign.App);
        await device.AdvanceUntilAsync(() => broker.Controller.On("/status").Count == 1, "the sign is online");

        await broker.Controller.SendAsync(device.Topics.Command("timetable"), Timetable, retain: true);
        await device.AdvanceUntilAsync(() => sign.App.ShownKey.Contains("NEXT P3 Physics", StringComparison.Ordinal) && sign.Panel.RefreshCount >= 1 && !sign.App.ShownKey.Contains("NO LESSONS", StringComparison.Ordinal),
            "the panel shows the next lesson", TimeSpan.FromMilliseconds(50));
        // 09:55 local: Physics is next.
        Assert.Equal(0, DifferingPixels(sign.Panel, SignLayout.Margin, SignLayout.LessonY, SignLayout.LessonScale, "NEXT P3 Physics"));
        Assert.Equal(0, DifferingPixels(sign.Panel, SignLayout.Margin, SignLayout.LessonDetailY, 1, "10:00-10:45 Li Wei 8B"));
        Assert.NotEqual(0, DifferingPixels(sign.Panel, SignLayout.Margin, SignLayout.LessonY, SignLayout.LessonScale, "NOW P3 Physics"));
        Assert.True(InkInRows(sign.Panel, SignLayout.RoomY, 16) > 0, "the room name is drawn");

        // Nothing changes for a minute: no refresh (e-paper refreshes are slow and wear the panel).
        int refreshes = sign.Panel.RefreshCount;
        await device.AdvanceAsync(TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200));
        Assert.Equal(refreshes, sign.Panel.RefreshCount);

        // 10:00 local: Physics is on now.
        await device.AdvanceUntilAsync(() => sign.App.ShownKey.Contains("NOW P3 Physics", StringComparison.Ordinal), "the lesson starts", TimeSpan.FromMilliseconds(500));
        await device.AdvanceUntilAsync(() => sign.Panel.RefreshCount == refreshes + 1 && DifferingPixels(sign.Panel, SignLayout.Margin, SignLayout.LessonY, SignLayout.LessonScale, "NOW P3 Physics") == 0,
            "the panel shows the current lesson", TimeSpan.FromMilliseconds(50));
        Assert.Equal(0, DifferingPixels(sign.Panel, SignLayout.Margin, SignLayout.TableY, 1, "P3 10:00 Physics 8B"));
        Assert.Equal(0, DifferingPixels(sign.Panel, SignLayout.Margin, SignLayout.TableY + SignLayout.RowHeight, 1, "P4 11:00 History 8B"));
    }

    [Theory]
    [InlineData(BrokerKind.Mosquitto)]
    [InlineData(BrokerKind.Embedded)]
    public async Task Card_tap_checks_in_to_the_current_lesson_and_lockdown_replaces_the_screen(BrokerKind kind)
    {
        await using var broker = await BrokerRig.StartAsync(kind);
        await using var device = new DeviceRig("sign", "s01-r102-sign", broker.DeviceClient());
        var sign = new SignRig(device);
        await device.RunAsync(sign.App);
        await device.AdvanceUntilAsync(() => broker.Controller.On("/status").Count == 1, "the sign is online");
        await broker.Controller.SendAsync(device.Topics.Command("timetable"), Timetable, retain: true);
        await broker.Controller.SendAsync(device.Topics.Command("notices"),
            """{"v":1,"id":"n-1","items":[{"text":"Sports day on Friday","until":1893456000000},{"text":"Expired notice","until":1000}]}""", retain: true);
        await device.AdvanceUntilAsync(() => sign.App.ShownKey.Contains("Sports day", StringComparison.Ordinal) && sign.Panel.RefreshCount >= 1,
            "the notices are shown", TimeSpan.FromMilliseconds(50));
        Assert.DoesNotContain("Expired", sign.App.ShownKey, StringComparison.Ordinal);
        await device.AdvanceUntilAsync(() => DifferingPixels(sign.Panel, SignLayout.Margin, SignLayout.NoticeY, 1, "! Sports day on Friday") == 0, "the notice is on the panel", TimeSpan.FromMilliseconds(50));

        await device.AdvanceAsync(TimeSpan.FromMinutes(6), TimeSpan.FromMilliseconds(500)); // 10:01 local
        int halts = sign.Reader.HaltCount;
        sign.Reader.PlaceCard(Convert.FromHexString("04A1B2C3"));
        await device.AdvanceUntilAsync(() => sign.Reader.HaltCount > halts, "the card is read");
        sign.Reader.RemoveCard();
        await device.AdvanceUntilAsync(() => broker.Controller.Events("checkin").Length == 1, "the check-in", TimeSpan.FromMilliseconds(10));
        var checkin = broker.Controller.Events("checkin")[0];
        Assert.Equal("04A1B2C3", checkin.GetProperty("card").GetString());
        Assert.Equal("2026-11-26/3", checkin.GetProperty("lesson").GetString());
        Assert.False(checkin.TryGetProperty("sig", out _));

        await broker.Controller.SendAsync(device.Topics.Command("lockdown"), """{"v":1,"id":"ld-1","active":true,"message":"Lockdown: stay in the room, lock the door, keep away from windows."}""", retain: true);
        await device.AdvanceUntilAsync(() => sign.App.ShownKey.Contains("LOCKDOWN", StringComparison.Ordinal)
            && DifferingPixels(sign.Panel, (EpaperModel.Width - FrameBuffer.MeasureText("LOCKDOWN", SignLayout.LockdownScale)) / 2, SignLayout.LockdownTitleY, SignLayout.LockdownScale, "LOCKDOWN") == 0,
            "the lockdown screen is on the panel", TimeSpan.FromMilliseconds(50));
        Assert.DoesNotContain("Physics", sign.App.ShownKey, StringComparison.Ordinal);

        await broker.Controller.SendAsync(device.Topics.Command("lockdown"), """{"v":1,"id":"ld-2","active":false}""", retain: true);
        await device.AdvanceUntilAsync(() => DifferingPixels(sign.Panel, SignLayout.Margin, SignLayout.LessonY, SignLayout.LessonScale, "NOW P3 Physics") == 0,
            "the timetable is back", TimeSpan.FromMilliseconds(50));
        var acks = broker.Controller.On("/ack").Select(m => JsonDocument.Parse(m.Payload).RootElement).ToArray();
        Assert.All(acks, a => Assert.True(a.GetProperty("ok").GetBoolean(), a.GetRawText()));
    }
}
