namespace Campus.Firmware.Ports
{
    /// <summary>
    /// Pin and bus numbers of the maker board (hardware/pinmaps/maker.*.json; a test keeps the two equal).
    /// Maker kit: I2C sensor port (SHT31, INA219), two analog inputs, button, LED, buzzer, actuator relay.
    /// </summary>
    public sealed class MakerBoard
    {
        private MakerBoard()
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

        /// <summary>GPIO of i2cSda (i2c-sda).</summary>
        public int I2cSda { get; private set; }

        /// <summary>GPIO of i2cScl (i2c-scl).</summary>
        public int I2cScl { get; private set; }

        /// <summary>GPIO of soilAdc (adc).</summary>
        public int SoilAdc { get; private set; }

        /// <summary>GPIO of lightAdc (adc).</summary>
        public int LightAdc { get; private set; }

        /// <summary>GPIO of userButton (gpio).</summary>
        public int UserButton { get; private set; }

        /// <summary>GPIO of statusLed (gpio).</summary>
        public int StatusLed { get; private set; }

        /// <summary>GPIO of buzzer (gpio).</summary>
        public int Buzzer { get; private set; }

        /// <summary>GPIO of actuatorRelay (gpio).</summary>
        public int ActuatorRelay { get; private set; }

        /// <summary>The board for a chip name: "esp32-wroom-32" or "esp32-s3".</summary>
        public static MakerBoard ForChip(string chip)
        {
            return BoardChip.IsWroom32(chip) ? Esp32Wroom32() : Esp32S3();
        }

        public static MakerBoard Esp32Wroom32()
        {
            var board = new MakerBoard();
            board.Chip = "esp32-wroom-32";
            board.I2cBusId = 1;
            board.I2cSda = 21;
            board.I2cScl = 22;
            board.SoilAdc = 34;
            board.LightAdc = 35;
            board.UserButton = 39;
            board.StatusLed = 32;
            board.Buzzer = 25;
            board.ActuatorRelay = 26;
            return board;
        }

        public static MakerBoard Esp32S3()
        {
            var board = new MakerBoard();
            board.Chip = "esp32-s3";
            board.I2cBusId = 1;
            board.I2cSda = 8;
            board.I2cScl = 9;
            board.SoilAdc = 1;
            board.LightAdc = 2;
            board.UserButton = 4;
            board.StatusLed = 21;
            board.Buzzer = 47;
            board.ActuatorRelay = 15;
            return board;
        }
    }
}
