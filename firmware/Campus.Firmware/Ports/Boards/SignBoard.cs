namespace Campus.Firmware.Ports
{
    /// <summary>
    /// Pin and bus numbers of the sign board (hardware/pinmaps/sign.*.json; a test keeps the two equal).
    /// Electronic class sign: 2.9-inch SSD1680 e-paper and MFRC522 (check-in) sharing one SPI bus, tamper switch, LED, buzzer.
    /// </summary>
    public sealed class SignBoard
    {
        private SignBoard()
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

        /// <summary>GPIO of epdCs (spi-cs).</summary>
        public int EpdCs { get; private set; }

        /// <summary>GPIO of epdDc (gpio).</summary>
        public int EpdDc { get; private set; }

        /// <summary>GPIO of epdRst (gpio).</summary>
        public int EpdRst { get; private set; }

        /// <summary>GPIO of epdBusy (gpio).</summary>
        public int EpdBusy { get; private set; }

        /// <summary>GPIO of rfidCs (spi-cs).</summary>
        public int RfidCs { get; private set; }

        /// <summary>GPIO of rfidRst (gpio).</summary>
        public int RfidRst { get; private set; }

        /// <summary>GPIO of tamperSwitch (gpio).</summary>
        public int TamperSwitch { get; private set; }

        /// <summary>GPIO of statusLed (gpio).</summary>
        public int StatusLed { get; private set; }

        /// <summary>GPIO of buzzer (gpio).</summary>
        public int Buzzer { get; private set; }

        /// <summary>The board for a chip name: "esp32-wroom-32" or "esp32-s3".</summary>
        public static SignBoard ForChip(string chip)
        {
            return BoardChip.IsWroom32(chip) ? Esp32Wroom32() : Esp32S3();
        }

        public static SignBoard Esp32Wroom32()
        {
            var board = new SignBoard();
            board.Chip = "esp32-wroom-32";
            board.SpiBusId = 1;
            board.SpiSck = 18;
            board.SpiMosi = 23;
            board.SpiMiso = 19;
            board.EpdCs = 5;
            board.EpdDc = 17;
            board.EpdRst = 16;
            board.EpdBusy = 4;
            board.RfidCs = 27;
            board.RfidRst = 14;
            board.TamperSwitch = 39;
            board.StatusLed = 32;
            board.Buzzer = 25;
            return board;
        }

        public static SignBoard Esp32S3()
        {
            var board = new SignBoard();
            board.Chip = "esp32-s3";
            board.SpiBusId = 1;
            board.SpiSck = 12;
            board.SpiMosi = 11;
            board.SpiMiso = 13;
            board.EpdCs = 10;
            board.EpdDc = 9;
            board.EpdRst = 14;
            board.EpdBusy = 8;
            board.RfidCs = 15;
            board.RfidRst = 16;
            board.TamperSwitch = 7;
            board.StatusLed = 21;
            board.Buzzer = 47;
            return board;
        }
    }
}
