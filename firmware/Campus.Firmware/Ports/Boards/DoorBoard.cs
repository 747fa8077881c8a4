namespace Campus.Firmware.Ports
{
    /// <summary>
    /// Pin and bus numbers of the door board (hardware/pinmaps/door.*.json; a test keeps the two equal).
    /// Door card reader: MFRC522 on SPI, strike relay, reed switch, request-to-exit button, tamper switch, buzzer, two LEDs.
    /// </summary>
    public sealed class DoorBoard
    {
        private DoorBoard()
        {
            Chip = string.Empty;
            SerialPortName = string.Empty;
        }

        /// <summary>"esp32-wroom-32" or "esp32-s3".</summary>
        public string Chip { get; private set; }

        /// <summary>SPI bus id for SpiConnectionSettings (0 when the board has no SPI bus).</summary>
        public int SpiBusId { get; private set; }

        /// <summary>I2C bus id for I2cConnectionSettings (0 when the board has no I2C bus).</summary>
        public int I2cBusId { get; private set; }

        /// <summary>UART port name (empty when the board has no UART device).</summary>
        public string SerialPortName { get; private set; }

        /// <summary>GPIO of spiSck (spi-sck).</summary>
        public int SpiSck { get; private set; }

        /// <summary>GPIO of spiMosi (spi-mosi).</summary>
        public int SpiMosi { get; private set; }

        /// <summary>GPIO of spiMiso (spi-miso).</summary>
        public int SpiMiso { get; private set; }

        /// <summary>GPIO of rfidCs (spi-cs).</summary>
        public int RfidCs { get; private set; }

        /// <summary>GPIO of rfidRst (gpio).</summary>
        public int RfidRst { get; private set; }

        /// <summary>GPIO of strikeRelay (gpio).</summary>
        public int StrikeRelay { get; private set; }

        /// <summary>GPIO of doorReed (gpio).</summary>
        public int DoorReed { get; private set; }

        /// <summary>GPIO of rexButton (gpio).</summary>
        public int RexButton { get; private set; }

        /// <summary>GPIO of tamperSwitch (gpio).</summary>
        public int TamperSwitch { get; private set; }

        /// <summary>GPIO of buzzer (gpio).</summary>
        public int Buzzer { get; private set; }

        /// <summary>GPIO of ledGreen (gpio).</summary>
        public int LedGreen { get; private set; }

        /// <summary>GPIO of ledRed (gpio).</summary>
        public int LedRed { get; private set; }

        /// <summary>The board for a chip name: "esp32-wroom-32" or "esp32-s3".</summary>
        public static DoorBoard ForChip(string chip)
        {
            return BoardChip.IsWroom32(chip) ? Esp32Wroom32() : Esp32S3();
        }

        public static DoorBoard Esp32Wroom32()
        {
            var board = new DoorBoard();
            board.Chip = "esp32-wroom-32";
            board.SpiBusId = 1;
            board.SpiSck = 18;
            board.SpiMosi = 23;
            board.SpiMiso = 19;
            board.RfidCs = 5;
            board.RfidRst = 22;
            board.StrikeRelay = 26;
            board.DoorReed = 34;
            board.RexButton = 35;
            board.TamperSwitch = 39;
            board.Buzzer = 25;
            board.LedGreen = 32;
            board.LedRed = 33;
            return board;
        }

        public static DoorBoard Esp32S3()
        {
            var board = new DoorBoard();
            board.Chip = "esp32-s3";
            board.SpiBusId = 1;
            board.SpiSck = 12;
            board.SpiMosi = 11;
            board.SpiMiso = 13;
            board.RfidCs = 10;
            board.RfidRst = 14;
            board.StrikeRelay = 4;
            board.DoorReed = 5;
            board.RexButton = 6;
            board.TamperSwitch = 7;
            board.Buzzer = 15;
            board.LedGreen = 16;
            board.LedRed = 21;
            return board;
        }
    }
}
