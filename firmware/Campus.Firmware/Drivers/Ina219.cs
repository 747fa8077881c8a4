using Campus.Firmware.Ports;

namespace Campus.Firmware.Drivers
{
    /// <summary>One set of INA219 readings.</summary>
    public sealed class Ina219Reading
    {
        public double ShuntVoltageV { get; set; }

        public double BusVoltageV { get; set; }

        public double CurrentA { get; set; }

        public double PowerW { get; set; }

        /// <summary>MATH OVF: the power or current calculation overflowed; current and power are meaningless.</summary>
        public bool Overflow { get; set; }

        /// <summary>CNVR: a new conversion finished since the power register was last read.</summary>
        public bool ConversionReady { get; set; }
    }

    /// <summary>
    /// INA219 current/power monitor over I2C (default address 0x40). Calibration follows the
    /// datasheet: Current_LSB = max expected current / 2^15, Cal = trunc(0.04096 / (Current_LSB * R_shunt)),
    /// Power_LSB = 20 * Current_LSB. Bus range 32 V, PGA chosen from the largest expected shunt voltage,
    /// 12-bit conversions, shunt and bus continuous.
    /// </summary>
    public sealed class Ina219
    {
        public const byte RegisterConfiguration = 0x00;
        public const byte RegisterShuntVoltage = 0x01;
        public const byte RegisterBusVoltage = 0x02;
        public const byte RegisterPower = 0x03;
        public const byte RegisterCurrent = 0x04;
        public const byte RegisterCalibration = 0x05;
        public const ushort ConfigurationResetBit = 0x8000;
        public const ushort PowerOnConfiguration = 0x399F;

        private readonly I2cDevice _i2c;
        private readonly byte[] _pointer = new byte[1];
        private readonly byte[] _word = new byte[2];

        public Ina219(I2cDevice i2c, double shuntOhms, double maxExpectedCurrentA)
        {
            if (shuntOhms <= 0 || maxExpectedCurrentA <= 0)
            {
                throw new System.ArgumentException("Shunt resistance and expected current must be positive.");
            }

            _i2c = i2c;
            ShuntOhms = shuntOhms;
            MaxExpectedCurrentA = maxExpectedCurrentA;
            CurrentLsbA = maxExpectedCurrentA / 32768.0;
            Calibration = ComputeCalibration(CurrentLsbA, shuntOhms);
            PowerLsbW = 20.0 * CurrentLsbA;
            GainCode = ChooseGain(maxExpectedCurrentA * shuntOhms);
            Configuration = (ushort)((1 << 13) | (GainCode << 11) | (0x3 << 7) | (0x3 << 3) | 0x7);
        }

        public double ShuntOhms { get; }

        public double MaxExpectedCurrentA { get; }

        /// <summary>Amperes per bit of the current register.</summary>
        public double CurrentLsbA { get; }

        /// <summary>Watts per bit of the power register (20 x the current LSB).</summary>
        public double PowerLsbW { get; }

        /// <summary>The value written to the calibration register (bit 0 is always 0 on the chip).</summary>
        public ushort Calibration { get; }

        /// <summary>PG bits: 0 = +-40 mV, 1 = +-80 mV, 2 = +-160 mV, 3 = +-320 mV.</summary>
        public int GainCode { get; }

        /// <summary>The value written to the configuration register.</summary>
        public ushort Configuration { get; }

        /// <summary>Cal = trunc(0.04096 / (Current_LSB x R_shunt)), with bit 0 cleared; throws when it does not fit 16 bits.</summary>
        public static ushort ComputeCalibration(double currentLsbA, double shuntOhms)
        {
            // The small guard keeps exact quotients (e.g. 4096) from truncating to one less in binary floating point.
            double exact = 0.04096 / (currentLsbA * shuntOhms);
            long cal = (long)(exact + 1e-9);
            if (cal < 2 || cal > 0xFFFE)
            {
                throw new DriverException(DriverError.ProtocolError, "INA219 calibration must be 2..65534; got " + cal + " (choose another shunt or current range).");
            }

            return (ushort)(cal & 0xFFFE);
        }

        /// <summary>Resets the chip and writes calibration and configuration; checks that both read back.</summary>
        public void Initialize()
        {
            WriteRegister(RegisterConfiguration, ConfigurationResetBit);
            ushort afterReset = ReadRegister(RegisterConfiguration);
            if (afterReset != PowerOnConfiguration)
            {
                throw new DriverException(DriverError.NoDevice, "INA219 configuration after reset: expected 0x399F, got 0x" + afterReset.ToString("X4") + ".");
            }

            WriteRegister(RegisterCalibration, Calibration);
            WriteRegister(RegisterConfiguration, Configuration);
            ushort cal = ReadRegister(RegisterCalibration);
            if (cal != Calibration)
            {
                throw new DriverException(DriverError.ProtocolError, "INA219 calibration read back: expected " + Calibration + ", got " + cal + ".");
            }
        }

        public double ReadShuntVoltageV()
        {
            return (short)ReadRegister(RegisterShuntVoltage) * 0.00001;
        }

        public double ReadBusVoltageV()
        {
            return (ReadRegister(RegisterBusVoltage) >> 3) * 0.004;
        }

        public double ReadCurrentA()
        {
            return (short)ReadRegister(RegisterCurrent) * CurrentLsbA;
        }

        public double ReadPowerW()
        {
            return ReadRegister(RegisterPower) * PowerLsbW;
        }

        /// <summary>All four measurements and the status flags of the bus voltage register.</summary>
        public Ina219Reading Read()
        {
            ushort bus = ReadRegister(RegisterBusVoltage);
            var reading = new Ina219Reading();
            reading.BusVoltageV = (bus >> 3) * 0.004;
            reading.ConversionReady = (bus & 0x2) != 0;
            reading.Overflow = (bus & 0x1) != 0;
            reading.ShuntVoltageV = (short)ReadRegister(RegisterShuntVoltage) * 0.00001;
            reading.CurrentA = (short)ReadRegister(RegisterCurrent) * CurrentLsbA;
            reading.PowerW = ReadRegister(RegisterPower) * PowerLsbW;
            return reading;
        }

        public ushort ReadRegister(byte register)
        {
            _pointer[0] = register;
            var result = _i2c.WriteRead(_pointer, _word);
            Check(result, 2, register);
            return (ushort)((_word[0] << 8) | _word[1]);
        }

        public void WriteRegister(byte register, ushort value)
        {
            var result = _i2c.Write(new byte[] { register, (byte)(value >> 8), (byte)value });
            Check(result, 3, register);
        }

        private static int ChooseGain(double maxShuntVolts)
        {
            // Products like 0.1 * 3.2 land a hair above 0.32 in binary floating point.
            maxShuntVolts -= 1e-9;
            if (maxShuntVolts <= 0.04)
            {
                return 0;
            }

            if (maxShuntVolts <= 0.08)
            {
                return 1;
            }

            if (maxShuntVolts <= 0.16)
            {
                return 2;
            }

            if (maxShuntVolts <= 0.32)
            {
                return 3;
            }

            throw new DriverException(DriverError.ProtocolError, "INA219 shunt voltage at full current is " + maxShuntVolts + " V; the largest range is 0.32 V.");
        }

        private void Check(I2cTransferResult result, int expectedBytes, byte register)
        {
            if (result.Status == I2cTransferStatus.SlaveAddressNotAcknowledged)
            {
                throw new DriverException(DriverError.NoDevice, "INA219 at 0x" + _i2c.ConnectionSettings.DeviceAddress.ToString("X2") + " did not acknowledge.");
            }

            if (result.Status != I2cTransferStatus.FullTransfer)
            {
                throw new DriverException(DriverError.ProtocolError, "INA219 register 0x" + register.ToString("X2") + ": expected a full transfer of " + expectedBytes + " bytes, got " + result.BytesTransferred + ".");
            }
        }
    }
}
