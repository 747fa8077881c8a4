namespace Campus.Firmware.Ports
{
    /// <summary>
    /// Pin and bus numbers of the energy board (hardware/pinmaps/energy.*.json; a test keeps the two equal).
    /// Energy node: PZEM-004T v3 on UART (Modbus RTU), INA219 and SHT31 on I2C, PIR, tamper switch, LED.
    /// </summary>
    public sealed class EnergyBoard
    {
        private EnergyBoard()
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

        /// <summary>GPIO of uartTx (uart-tx).</summary>
        public int UartTx { get; private set; }

        /// <summary>GPIO of uartRx (uart-rx).</summary>
        public int UartRx { get; private set; }

        /// <summary>GPIO of i2cSda (i2c-sda).</summary>
        public int I2cSda { get; private set; }

        /// <summary>GPIO of i2cScl (i2c-scl).</summary>
        public int I2cScl { get; private set; }

        /// <summary>GPIO of pir (gpio).</summary>
        public int Pir { get; private set; }

        /// <summary>GPIO of tamperSwitch (gpio).</summary>
        public int TamperSwitch { get; private set; }

        /// <summary>GPIO of statusLed (gpio).</summary>
        public int StatusLed { get; private set; }

        /// <summary>The board for a chip name: "esp32-wroom-32" or "esp32-s3".</summary>
        public static EnergyBoard ForChip(string chip)
        {
            return BoardChip.IsWroom32(chip) ? Esp32Wroom32() : Esp32S3();
        }

        public static EnergyBoard Esp32Wroom32()
        {
            var board = new EnergyBoard();
            board.Chip = "esp32-wroom-32";
            board.SerialPortName = "COM2";
            board.I2cBusId = 1;
            board.UartTx = 17;
            board.UartRx = 16;
            board.I2cSda = 21;
            board.I2cScl = 22;
            board.Pir = 34;
            board.TamperSwitch = 39;
            board.StatusLed = 32;
            return board;
        }

        public static EnergyBoard Esp32S3()
        {
            var board = new EnergyBoard();
            board.Chip = "esp32-s3";
            board.SerialPortName = "COM2";
            board.I2cBusId = 1;
            board.UartTx = 17;
            board.UartRx = 18;
            board.I2cSda = 8;
            board.I2cScl = 9;
            board.Pir = 5;
            board.TamperSwitch = 7;
            board.StatusLed = 21;
            return board;
        }
    }
}
