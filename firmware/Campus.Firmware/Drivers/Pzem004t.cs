using System;
using Campus.Firmware.Ports;

namespace Campus.Firmware.Drivers
{
    /// <summary>All measurement registers of a PZEM-004T v3 (input registers 0x0000-0x0009).</summary>
    public sealed class PzemReading
    {
        public double VoltageV { get; set; }

        public double CurrentA { get; set; }

        public double PowerW { get; set; }

        /// <summary>Cumulative energy, watt-hours (the meter's own counter).</summary>
        public uint EnergyWh { get; set; }

        public double FrequencyHz { get; set; }

        public double PowerFactor { get; set; }

        /// <summary>True when the power alarm threshold is exceeded (register 0x0009 = 0xFFFF).</summary>
        public bool PowerAlarm { get; set; }
    }

    /// <summary>A Modbus exception response (function code with bit 7 set, then an exception code).</summary>
    public sealed class ModbusException : DriverException
    {
        public const byte IllegalFunction = 0x01;
        public const byte IllegalDataAddress = 0x02;
        public const byte IllegalDataValue = 0x03;
        public const byte SlaveDeviceFailure = 0x04;

        public ModbusException(byte functionCode, byte exceptionCode)
            : base(DriverError.DeviceError, "Modbus exception response to function 0x" + functionCode.ToString("X2") + ": code 0x" + exceptionCode.ToString("X2") + " (" + Describe(exceptionCode) + ").")
        {
            FunctionCode = functionCode;
            ExceptionCode = exceptionCode;
        }

        public byte FunctionCode { get; }

        public byte ExceptionCode { get; }

        private static string Describe(byte code)
        {
            switch (code)
            {
                case IllegalFunction: return "illegal function";
                case IllegalDataAddress: return "illegal data address";
                case IllegalDataValue: return "illegal data value";
                case SlaveDeviceFailure: return "slave device failure";
                default: return "unknown";
            }
        }
    }

    /// <summary>
    /// PZEM-004T v3 energy meter over UART (9600 8N1), Modbus RTU: read input registers (0x04),
    /// read/write holding registers (0x03/0x06), reset energy (0x42). Frames end with CRC-16/Modbus,
    /// low byte first. Exception responses become <see cref="ModbusException"/>; a missing or
    /// incomplete answer a <see cref="DriverException"/> with <see cref="DriverError.Timeout"/>.
    /// </summary>
    public sealed class Pzem004t
    {
        public const byte GeneralAddress = 0xF8;
        public const byte FunctionReadHoldingRegisters = 0x03;
        public const byte FunctionReadInputRegisters = 0x04;
        public const byte FunctionWriteSingleRegister = 0x06;
        public const byte FunctionResetEnergy = 0x42;
        public const ushort HoldingAlarmThreshold = 0x0001;
        public const ushort HoldingSlaveAddress = 0x0002;

        private readonly SerialPort _port;
        private readonly byte _address;

        /// <summary>A meter at <paramref name="address"/> (1-247, or 0xF8 to talk to the only meter on the line).</summary>
        public Pzem004t(SerialPort port, byte address, int responseTimeoutMs)
        {
            _port = port;
            _address = address;
            ResponseTimeoutMs = responseTimeoutMs;
        }

        public int ResponseTimeoutMs { get; set; }

        public PzemReading Read()
        {
            var data = ReadRegisters(FunctionReadInputRegisters, 0x0000, 10);
            var reading = new PzemReading();
            reading.VoltageV = Word(data, 0) * 0.1;
            reading.CurrentA = DoubleWord(data, 1) * 0.001;
            reading.PowerW = DoubleWord(data, 3) * 0.1;
            reading.EnergyWh = DoubleWord(data, 5);
            reading.FrequencyHz = Word(data, 7) * 0.1;
            reading.PowerFactor = Word(data, 8) * 0.01;
            reading.PowerAlarm = Word(data, 9) == 0xFFFF;
            return reading;
        }

        /// <summary>Reads <paramref name="count"/> registers with function 0x03 or 0x04; returns the data bytes (big-endian words).</summary>
        public byte[] ReadRegisters(byte function, ushort start, ushort count)
        {
            var request = new byte[] { _address, function, (byte)(start >> 8), (byte)start, (byte)(count >> 8), (byte)count, 0, 0 };
            var response = Exchange(request, function, 5 + (2 * count));
            if (response[2] != 2 * count)
            {
                throw new DriverException(DriverError.ProtocolError, "PZEM byte count: expected " + (2 * count) + ", got " + response[2] + ".");
            }

            var data = new byte[2 * count];
            Array.Copy(response, 3, data, 0, data.Length);
            return data;
        }

        public void WriteHoldingRegister(ushort register, ushort value)
        {
            var request = new byte[] { _address, FunctionWriteSingleRegister, (byte)(register >> 8), (byte)register, (byte)(value >> 8), (byte)value, 0, 0 };
            var response = Exchange(request, FunctionWriteSingleRegister, 8);
            for (int i = 2; i < 6; i++)
            {
                if (response[i] != request[i])
                {
                    throw new DriverException(DriverError.ProtocolError, "PZEM write echo differs at byte " + i + ": sent 0x" + request[i].ToString("X2") + ", got 0x" + response[i].ToString("X2") + ".");
                }
            }
        }

        /// <summary>Clears the energy counter (function 0x42).</summary>
        public void ResetEnergy()
        {
            Exchange(new byte[] { _address, FunctionResetEnergy, 0, 0 }, FunctionResetEnergy, 4);
        }

        /// <summary>Appends the CRC, sends the request and returns the validated response of <paramref name="expectedLength"/> bytes.</summary>
        private byte[] Exchange(byte[] request, byte function, int expectedLength)
        {
            ushort crc = Checksums.Crc16Modbus(request, 0, request.Length - 2);
            request[request.Length - 2] = (byte)crc;
            request[request.Length - 1] = (byte)(crc >> 8);
            _port.DiscardInBuffer();
            _port.ReadTimeout = ResponseTimeoutMs;
            _port.Write(request, 0, request.Length);

            // Address and function first: they tell a normal response from a 5-byte exception response.
            var head = new byte[2];
            ReadExactly(head, 0, 2, expectedLength);
            if (head[1] == (byte)(function | 0x80))
            {
                var exception = new byte[5];
                exception[0] = head[0];
                exception[1] = head[1];
                ReadExactly(exception, 2, 3, 5);
                CheckCrc(exception);
                throw new ModbusException(function, exception[2]);
            }

            if (head[1] != function)
            {
                throw new DriverException(DriverError.ProtocolError, "PZEM answered function 0x" + head[1].ToString("X2") + " to a request for 0x" + function.ToString("X2") + ".");
            }

            var response = new byte[expectedLength];
            response[0] = head[0];
            response[1] = head[1];
            ReadExactly(response, 2, expectedLength - 2, expectedLength);
            CheckCrc(response);
            if (_address != GeneralAddress && response[0] != _address)
            {
                throw new DriverException(DriverError.ProtocolError, "PZEM answer from address " + response[0] + ", expected " + _address + ".");
            }

            return response;
        }

        private void ReadExactly(byte[] buffer, int offset, int count, int frameLength)
        {
            int done = 0;
            while (done < count)
            {
                try
                {
                    done += _port.Read(buffer, offset + done, count - done);
                }
                catch (TimeoutException)
                {
                    throw new DriverException(DriverError.Timeout, "PZEM answer incomplete after " + ResponseTimeoutMs + " ms: " + (offset + done) + " of " + frameLength + " bytes.");
                }
            }
        }

        private static void CheckCrc(byte[] frame)
        {
            ushort expected = Checksums.Crc16Modbus(frame, 0, frame.Length - 2);
            ushort actual = (ushort)(frame[frame.Length - 2] | (frame[frame.Length - 1] << 8));
            if (expected != actual)
            {
                throw new DriverException(DriverError.CrcMismatch, "PZEM frame CRC: expected 0x" + expected.ToString("X4") + ", got 0x" + actual.ToString("X4") + ".");
            }
        }

        private static ushort Word(byte[] data, int register)
        {
            return (ushort)((data[2 * register] << 8) | data[(2 * register) + 1]);
        }

        /// <summary>32-bit values are two registers, low word first.</summary>
        private static uint DoubleWord(byte[] data, int register)
        {
            return (uint)Word(data, register) | ((uint)Word(data, register + 1) << 16);
        }
    }
}
