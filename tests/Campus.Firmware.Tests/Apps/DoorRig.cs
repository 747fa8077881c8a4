using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Campus.Firmware.Apps.Door;
using Campus.Firmware.Drivers;
using Campus.Firmware.Ports;
using Campus.Simulators.Chips;

namespace Campus.Firmware.Tests.Apps;

/// <summary>A door board of chip models (GPIO, MFRC522) under the real door firmware.</summary>
internal sealed class DoorRig
{
    public DoorRig(DeviceRig device)
    {
        Device = device;
        Board = DoorBoard.Esp32Wroom32();
        Gpio = GpioModel.Esp32(device.Clock);
        Reader = new Mfrc522Model(new SpiConnectionSettings(Board.SpiBusId, Board.RfidCs));
        // At rest: door closed (reed low), REX not pressed (high), case closed (low).
        Gpio.SetInput(Board.DoorReed, PinValue.Low);
        Gpio.SetInput(Board.RexButton, PinValue.High);
        Gpio.SetInput(Board.TamperSwitch, PinValue.Low);
        var driver = new Mfrc522(Reader, device.Clock, Gpio, Board.RfidRst);
        App = new DoorApp(device.CreateRuntime(), DoorHardware.FromBoard(Board, Gpio, driver));
    }

    public DeviceRig Device { get; }
    public DoorBoard Board { get; }
    public GpioModel Gpio { get; }
    public Mfrc522Model Reader { get; }
    public DoorApp App { get; }

    public Task<DoorApp> StartAsync() => Device.RunAsync(App);

    /// <summary>Holds a card on the reader until the firmware has read it, then takes it away.</summary>
    public async Task TapAsync(string uidHex)
    {
        int halts = Reader.HaltCount;
        Reader.PlaceCard(Convert.FromHexString(uidHex));
        await Device.AdvanceUntilAsync(() => Reader.HaltCount > halts, $"the reader reads card {uidHex}");
        Reader.RemoveCard();
    }

    public IReadOnlyList<PinPulse> StrikePulses => Gpio.Pulses(Board.StrikeRelay);

    public void OpenDoor() => Gpio.SetInput(Board.DoorReed, PinValue.High);

    public void CloseDoor() => Gpio.SetInput(Board.DoorReed, PinValue.Low);

    /// <summary>Checks a door event's signature exactly as the contract says, with the platform's HMAC.</summary>
    public static bool VerifySignature(string deviceId, byte[] key, string payload)
    {
        const string Marker = ",\"sig\":\"";
        int at = payload.LastIndexOf(Marker, StringComparison.Ordinal);
        if (at < 0 || !payload.EndsWith("\"}", StringComparison.Ordinal)) return false;
        string sig = payload[(at + Marker.Length)..^2];
        string unsigned = payload[..at] + "}";
        var expected = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(deviceId + "\n" + unsigned));
        return CryptographicOperations.FixedTimeEquals(expected, Convert.FromBase64String(sig));
    }

    public bool Verifies(JsonElement evt) => VerifySignature(Device.Settings.DeviceId, Device.Settings.HmacKey, evt.GetRawText());
}
