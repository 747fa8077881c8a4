using Campus.Firmware.Ports;

namespace Campus.Firmware.Drivers
{
    /// <summary>SSD1680 commands used by the driver (datasheet command table).</summary>
    public static class Ssd1680Commands
    {
        public const byte DriverOutputControl = 0x01;
        public const byte DeepSleep = 0x10;
        public const byte DataEntryMode = 0x11;
        public const byte SoftwareReset = 0x12;
        public const byte TemperatureSensor = 0x18;
        public const byte MasterActivation = 0x20;
        public const byte DisplayUpdateControl1 = 0x21;
        public const byte DisplayUpdateControl2 = 0x22;
        public const byte WriteRamBlackWhite = 0x24;
        public const byte WriteRamRed = 0x26;
        public const byte BorderWaveform = 0x3C;
        public const byte SetRamXRange = 0x44;
        public const byte SetRamYRange = 0x45;
        public const byte SetRamXCounter = 0x4E;
        public const byte SetRamYCounter = 0x4F;

        /// <summary>Display update sequence: clock and analog on, load temperature and waveform, full refresh, off.</summary>
        public const byte FullUpdateSequence = 0xF7;
    }

    /// <summary>
    /// A 2.9-inch 296x128 black/white e-paper panel on an SSD1680 over SPI (4-wire: D/C on a GPIO),
    /// BUSY high while the controller works, full refresh. The canvas is landscape, 296 wide and 128 high:
    /// the panel's RAM is 128 source columns (16 bytes, bit 1 = white) by 296 gate rows, and logical
    /// pixel (x, y) is RAM column y, RAM row 295 - x (portrait panel turned a quarter clockwise).
    /// </summary>
    public sealed class Ssd1680
    {
        public const int PanelSources = 128;
        public const int PanelGates = 296;
        public const int Width = PanelGates;
        public const int Height = PanelSources;
        public const int RamBytes = (PanelSources / 8) * PanelGates;

        private readonly SpiDevice _spi;
        private readonly GpioController _gpio;
        private readonly Clock _clock;
        private readonly int _dcPin;
        private readonly int _resetPin;
        private readonly int _busyPin;
        private readonly byte[] _command = new byte[1];

        public Ssd1680(SpiDevice spi, GpioController gpio, Clock clock, int dcPin, int resetPin, int busyPin)
        {
            _spi = spi;
            _gpio = gpio;
            _clock = clock;
            _dcPin = dcPin;
            _resetPin = resetPin;
            _busyPin = busyPin;
            BusyTimeoutMs = 10000;
        }

        /// <summary>Longest wait for BUSY to fall (a full refresh takes about 3 s).</summary>
        public int BusyTimeoutMs { get; set; }

        public int RefreshCount { get; private set; }

        /// <summary>A canvas the size of the panel.</summary>
        public static FrameBuffer CreateFrameBuffer()
        {
            return new FrameBuffer(Width, Height);
        }

        public void Initialize()
        {
            OpenOutput(_dcPin);
            OpenOutput(_resetPin);
            if (!_gpio.IsPinOpen(_busyPin))
            {
                _gpio.OpenPin(_busyPin, PinMode.Input);
            }

            _gpio.Write(_resetPin, PinValue.Low);
            _clock.Sleep(10);
            _gpio.Write(_resetPin, PinValue.High);
            _clock.Sleep(10);
            WaitWhileBusy("hardware reset");

            Command(Ssd1680Commands.SoftwareReset);
            WaitWhileBusy("software reset");
            Command(Ssd1680Commands.DriverOutputControl, new byte[] { (PanelGates - 1) & 0xFF, (PanelGates - 1) >> 8, 0x00 });
            Command(Ssd1680Commands.DataEntryMode, new byte[] { 0x03 });   // X then Y increment
            Command(Ssd1680Commands.SetRamXRange, new byte[] { 0x00, (PanelSources / 8) - 1 });
            Command(Ssd1680Commands.SetRamYRange, new byte[] { 0x00, 0x00, (PanelGates - 1) & 0xFF, (PanelGates - 1) >> 8 });
            Command(Ssd1680Commands.BorderWaveform, new byte[] { 0x05 });
            Command(Ssd1680Commands.DisplayUpdateControl1, new byte[] { 0x00, 0x80 });
            Command(Ssd1680Commands.TemperatureSensor, new byte[] { 0x80 });   // internal sensor
            WaitWhileBusy("configuration");
        }

        /// <summary>Sends the canvas to both RAM planes and runs a full refresh; blocks until BUSY falls.</summary>
        public void Display(FrameBuffer frame)
        {
            if (frame.Width != Width || frame.Height != Height)
            {
                throw new System.ArgumentException("The canvas must be " + Width + "x" + Height + "; got " + frame.Width + "x" + frame.Height + ".");
            }

            var ram = ToPanelRam(frame);
            SetCounters();
            Command(Ssd1680Commands.WriteRamBlackWhite, ram);
            SetCounters();
            Command(Ssd1680Commands.WriteRamRed, ram);
            Command(Ssd1680Commands.DisplayUpdateControl2, new byte[] { Ssd1680Commands.FullUpdateSequence });
            Command(Ssd1680Commands.MasterActivation);
            WaitWhileBusy("full refresh");
            RefreshCount++;
        }

        public void DeepSleep()
        {
            Command(Ssd1680Commands.DeepSleep, new byte[] { 0x01 });
        }

        /// <summary>Landscape canvas (1 = ink) to the panel's RAM layout (1 = white).</summary>
        public static byte[] ToPanelRam(FrameBuffer frame)
        {
            var ram = new byte[RamBytes];
            int bytesPerRow = PanelSources / 8;
            for (int gate = 0; gate < PanelGates; gate++)
            {
                int x = PanelGates - 1 - gate;
                for (int source = 0; source < PanelSources; source++)
                {
                    bool ink = frame.GetPixel(x, source);
                    if (!ink)
                    {
                        ram[(gate * bytesPerRow) + (source >> 3)] |= (byte)(0x80 >> (source & 7));
                    }
                }
            }

            return ram;
        }

        private void SetCounters()
        {
            Command(Ssd1680Commands.SetRamXCounter, new byte[] { 0x00 });
            Command(Ssd1680Commands.SetRamYCounter, new byte[] { 0x00, 0x00 });
        }

        private void Command(byte command)
        {
            _gpio.Write(_dcPin, PinValue.Low);
            _command[0] = command;
            _spi.Write(_command);
        }

        private void Command(byte command, byte[] data)
        {
            Command(command);
            _gpio.Write(_dcPin, PinValue.High);
            _spi.Write(data);
        }

        private void WaitWhileBusy(string step)
        {
            int waited = 0;
            while (_gpio.Read(_busyPin) == PinValue.High)
            {
                if (waited >= BusyTimeoutMs)
                {
                    throw new DriverException(DriverError.Timeout, "SSD1680 still busy " + waited + " ms after " + step + " (limit " + BusyTimeoutMs + " ms).");
                }

                _clock.Sleep(10);
                waited += 10;
            }
        }

        private void OpenOutput(int pin)
        {
            if (!_gpio.IsPinOpen(pin))
            {
                _gpio.OpenPin(pin, PinMode.Output);
            }
        }
    }
}
