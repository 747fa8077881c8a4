using Campus.Firmware.Ports;

namespace Campus.Firmware.Drivers
{
    /// <summary>One SHT31 measurement.</summary>
    public sealed class Sht31Measurement
    {
        public Sht31Measurement(double temperatureC, double humidityPct, ushort rawTemperature, ushort rawHumidity)
        {
            TemperatureC = temperatureC;
            HumidityPct = humidityPct;
            RawTemperature = rawTemperature;
            RawHumidity = rawHumidity;
        }

        public double TemperatureC { get; }

        public double HumidityPct { get; }

        public ushort RawTemperature { get; }

        public ushort RawHumidity { get; }
    }

    /// <summary>
    /// SHT31 temperature/humidity sensor over I2C (0x44, or 0x45 with ADDR high). Single shot, high
    /// repeatability, no clock stretching (command 0x2400, at most 15.5 ms), every word checked with
    /// the Sensirion CRC-8. T = -45 + 175 * S_T / 65535 degC; RH = 100 * S_RH / 65535 %.
    /// </summary>
    public sealed class Sht31
    {
        public const ushort CommandSingleShotHighNoStretch = 0x2400;
        public const ushort CommandSoftReset = 0x30A2;
        public const ushort CommandReadStatus = 0xF32D;
        public const ushort CommandClearStatus = 0x3041;
        public const int MeasurementMs = 16;

        private readonly I2cDevice _i2c;
        private readonly Clock _clock;

        public Sht31(I2cDevice i2c, Clock clock)
        {
            _i2c = i2c;
            _clock = clock;
        }

        public void SoftReset()
        {
            SendCommand(CommandSoftReset);
            _clock.Sleep(2);
        }

        public ushort ReadStatus()
        {
            SendCommand(CommandReadStatus);
            var data = new byte[3];
            var result = _i2c.Read(data);
            CheckRead(result, 3);
            CheckCrc(data, 0, "status");
            return (ushort)((data[0] << 8) | data[1]);
        }

        /// <summary>Starts a measurement, waits for it and reads it; throws <see cref="DriverException"/> on a bad CRC or a missing sensor.</summary>
        public Sht31Measurement Measure()
        {
            SendCommand(CommandSingleShotHighNoStretch);
            _clock.Sleep(MeasurementMs);
            var data = new byte[6];
            var result = _i2c.Read(data);
            if (result.Status == I2cTransferStatus.SlaveAddressNotAcknowledged)
            {
                // Without clock stretching the sensor NACKs its read header while still measuring: one more try.
                _clock.Sleep(MeasurementMs);
                result = _i2c.Read(data);
            }

            CheckRead(result, 6);
            CheckCrc(data, 0, "temperature");
            CheckCrc(data, 3, "humidity");
            ushort rawT = (ushort)((data[0] << 8) | data[1]);
            ushort rawRh = (ushort)((data[3] << 8) | data[4]);
            return new Sht31Measurement(ToCelsius(rawT), ToRelativeHumidity(rawRh), rawT, rawRh);
        }

        public static double ToCelsius(ushort raw)
        {
            return -45.0 + (175.0 * raw / 65535.0);
        }

        public static double ToRelativeHumidity(ushort raw)
        {
            return 100.0 * raw / 65535.0;
        }

        private void SendCommand(ushort command)
        {
            var result = _i2c.Write(new byte[] { (byte)(command >> 8), (byte)command });
            if (result.Status == I2cTransferStatus.SlaveAddressNotAcknowledged)
            {
                throw new DriverException(DriverError.NoDevice, "SHT31 at 0x" + _i2c.ConnectionSettings.DeviceAddress.ToString("X2") + " did not acknowledge command 0x" + command.ToString("X4") + ".");
            }

            if (result.Status != I2cTransferStatus.FullTransfer)
            {
                throw new DriverException(DriverError.ProtocolError, "SHT31 command 0x" + command.ToString("X4") + ": expected 2 bytes written, got " + result.BytesTransferred + ".");
            }
        }

        private static void CheckRead(I2cTransferResult result, int expected)
        {
            if (result.Status == I2cTransferStatus.SlaveAddressNotAcknowledged)
            {
                throw new DriverException(DriverError.Timeout, "SHT31 still busy (read header not acknowledged) after " + (2 * MeasurementMs) + " ms.");
            }

            if (result.Status != I2cTransferStatus.FullTransfer || result.BytesTransferred != expected)
            {
                throw new DriverException(DriverError.ProtocolError, "SHT31 read: expected " + expected + " bytes, got " + result.BytesTransferred + ".");
            }
        }

        private static void CheckCrc(byte[] data, int offset, string what)
        {
            byte expected = Checksums.Crc8Sensirion(data, offset, 2);
            if (expected != data[offset + 2])
            {
                throw new DriverException(DriverError.CrcMismatch, "SHT31 " + what + " CRC: expected 0x" + expected.ToString("X2") + ", got 0x" + data[offset + 2].ToString("X2") + ".");
            }
        }
    }
}
