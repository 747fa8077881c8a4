using Campus.Firmware.Ports;

namespace Campus.Firmware.Drivers
{
    /// <summary>MFRC522 register addresses (datasheet section 9).</summary>
    public static class Mfrc522Registers
    {
        public const byte Command = 0x01;
        public const byte ComIEn = 0x02;
        public const byte DivIEn = 0x03;
        public const byte ComIrq = 0x04;
        public const byte DivIrq = 0x05;
        public const byte Error = 0x06;
        public const byte Status1 = 0x07;
        public const byte Status2 = 0x08;
        public const byte FifoData = 0x09;
        public const byte FifoLevel = 0x0A;
        public const byte WaterLevel = 0x0B;
        public const byte Control = 0x0C;
        public const byte BitFraming = 0x0D;
        public const byte Coll = 0x0E;
        public const byte Mode = 0x11;
        public const byte TxMode = 0x12;
        public const byte RxMode = 0x13;
        public const byte TxControl = 0x14;
        public const byte TxAsk = 0x15;
        public const byte CrcResultHigh = 0x21;
        public const byte CrcResultLow = 0x22;
        public const byte ModWidth = 0x24;
        public const byte RfCfg = 0x26;
        public const byte TMode = 0x2A;
        public const byte TPrescaler = 0x2B;
        public const byte TReloadHigh = 0x2C;
        public const byte TReloadLow = 0x2D;
        public const byte Version = 0x37;
    }

    /// <summary>MFRC522 commands (CommandReg bits 3..0) and the register bits the driver uses.</summary>
    public static class Mfrc522Commands
    {
        public const byte Idle = 0x00;
        public const byte Mem = 0x01;
        public const byte CalcCrc = 0x03;
        public const byte Transmit = 0x04;
        public const byte Receive = 0x08;
        public const byte Transceive = 0x0C;
        public const byte SoftReset = 0x0F;

        public const byte PowerDownBit = 0x10;       // CommandReg
        public const byte StartSend = 0x80;          // BitFramingReg
        public const byte FlushBuffer = 0x80;        // FIFOLevelReg
        public const byte CrcIrq = 0x04;             // DivIrqReg
        public const byte TxIrq = 0x40;              // ComIrqReg
        public const byte RxIrq = 0x20;
        public const byte IdleIrq = 0x10;
        public const byte ErrIrq = 0x02;
        public const byte TimerIrq = 0x01;
        public const byte AllComIrqs = 0x7F;
        public const byte BufferOverflowErr = 0x10;  // ErrorReg
        public const byte CollisionErr = 0x08;
        public const byte CrcErr = 0x04;
        public const byte ParityErr = 0x02;
        public const byte ProtocolErr = 0x01;
        public const byte AntennaBits = 0x03;        // TxControlReg Tx1RFEn | Tx2RFEn
    }

    /// <summary>ISO/IEC 14443-3 type A card commands.</summary>
    public static class Iso14443A
    {
        public const byte Reqa = 0x26;          // 7-bit short frame
        public const byte Wupa = 0x52;          // 7-bit short frame
        public const byte SelCascadeLevel1 = 0x93;
        public const byte SelCascadeLevel2 = 0x95;
        public const byte SelCascadeLevel3 = 0x97;
        public const byte NvbAnticollision = 0x20;  // 2 valid bytes: SEL + NVB
        public const byte NvbSelect = 0x70;         // 7 valid bytes: SEL + NVB + UID CLn + BCC
        public const byte Halt = 0x50;
        public const byte CascadeTag = 0x88;
        public const byte SakUidNotComplete = 0x04;
    }

    /// <summary>Result of one transceive.</summary>
    internal enum TransceiveStatus
    {
        Ok = 0,
        NoAnswer = 1,
        Collision = 2,
        Error = 3,
    }

    /// <summary>
    /// MFRC522 13.56 MHz reader over SPI: reset, antenna, REQA/WUPA, anticollision and SELECT for
    /// cascade levels 1-3 (4-, 7- and 10-byte UIDs), CRC_A on the chip's coprocessor, HLTA.
    /// One card in the field at a time: a bit collision (two cards) is reported as "no card".
    /// </summary>
    public sealed class Mfrc522
    {
        private const int MaxPolls = 200;
        private readonly SpiDevice _spi;
        private readonly Clock _clock;
        private readonly GpioController? _gpio;
        private readonly int _resetPin;
        private readonly byte[] _oneRegister = new byte[2];
        private readonly byte[] _oneRegisterRead = new byte[2];

        /// <summary>A reader with its reset (NRSTPD) line on <paramref name="resetPin"/>, or -1 when it is tied high.</summary>
        public Mfrc522(SpiDevice spi, Clock clock, GpioController? gpio, int resetPin)
        {
            _spi = spi;
            _clock = clock;
            _gpio = gpio;
            _resetPin = resetPin;
        }

        /// <summary>VersionReg after <see cref="Initialize"/> (0x91 = v1.0, 0x92 = v2.0, 0x88 = common clone).</summary>
        public byte Version { get; private set; }

        /// <summary>Answer to request of the last card seen (2 bytes).</summary>
        public byte[] LastAtqa { get; private set; } = new byte[0];

        /// <summary>Select acknowledge of the last fully selected card.</summary>
        public byte LastSak { get; private set; }

        /// <summary>Hard reset (when wired), soft reset, timer and modulation set-up, antenna on.</summary>
        public void Initialize()
        {
            if (_gpio != null && _resetPin >= 0)
            {
                if (!_gpio.IsPinOpen(_resetPin))
                {
                    _gpio.OpenPin(_resetPin, PinMode.Output);
                }

                _gpio.Write(_resetPin, PinValue.Low);
                _clock.Sleep(1);
                _gpio.Write(_resetPin, PinValue.High);
                _clock.Sleep(50);
            }

            WriteRegister(Mfrc522Registers.Command, Mfrc522Commands.SoftReset);
            int polls = 0;
            while ((ReadRegister(Mfrc522Registers.Command) & Mfrc522Commands.PowerDownBit) != 0)
            {
                if (++polls > 10)
                {
                    throw new DriverException(DriverError.Timeout, "MFRC522 did not leave soft power-down within 50 ms of SoftReset.");
                }

                _clock.Sleep(5);
            }

            Version = ReadRegister(Mfrc522Registers.Version);
            if (Version != 0x91 && Version != 0x92 && Version != 0x88)
            {
                throw new DriverException(DriverError.NoDevice, "MFRC522 VersionReg: expected 0x91, 0x92 or 0x88, got 0x" + Version.ToString("X2") + ".");
            }

            // Timer: TAuto, f_timer = 13.56 MHz / (2*0xA9+1) ~ 40 kHz, reload 1000 -> 25 ms receive timeout.
            WriteRegister(Mfrc522Registers.TMode, 0x80);
            WriteRegister(Mfrc522Registers.TPrescaler, 0xA9);
            WriteRegister(Mfrc522Registers.TReloadHigh, 0x03);
            WriteRegister(Mfrc522Registers.TReloadLow, 0xE8);
            WriteRegister(Mfrc522Registers.TxAsk, 0x40);   // 100 % ASK
            WriteRegister(Mfrc522Registers.Mode, 0x3D);    // CRC preset 0x6363 (ISO 14443-3 CRC_A)
            AntennaOn();
        }

        public void AntennaOn()
        {
            byte value = ReadRegister(Mfrc522Registers.TxControl);
            if ((value & Mfrc522Commands.AntennaBits) != Mfrc522Commands.AntennaBits)
            {
                WriteRegister(Mfrc522Registers.TxControl, (byte)(value | Mfrc522Commands.AntennaBits));
            }
        }

        public void AntennaOff()
        {
            byte value = ReadRegister(Mfrc522Registers.TxControl);
            WriteRegister(Mfrc522Registers.TxControl, (byte)(value & ~Mfrc522Commands.AntennaBits));
        }

        public bool IsAntennaOn
        {
            get { return (ReadRegister(Mfrc522Registers.TxControl) & Mfrc522Commands.AntennaBits) == Mfrc522Commands.AntennaBits; }
        }

        /// <summary>
        /// Polls for an idle card (REQA), selects it through the cascade levels and halts it, so a card
        /// left on the reader is reported once; it is seen again after it left the field and came back.
        /// </summary>
        public bool TryReadCardUid(out byte[] uid)
        {
            return TryReadCardUid(false, out uid);
        }

        /// <summary>As <see cref="TryReadCardUid(out byte[])"/>; with <paramref name="wakeUp"/> it sends WUPA, which also wakes halted cards.</summary>
        public bool TryReadCardUid(bool wakeUp, out byte[] uid)
        {
            uid = new byte[0];
            byte[] atqa;
            if (!TryRequest(wakeUp ? Iso14443A.Wupa : Iso14443A.Reqa, out atqa))
            {
                return false;
            }

            LastAtqa = atqa;
            byte[] found;
            if (!TrySelect(out found))
            {
                return false;
            }

            Halt();
            uid = found;
            return true;
        }

        /// <summary>Sends REQA or WUPA as a 7-bit short frame; true with the 2-byte ATQA when a card answers.</summary>
        public bool TryRequest(byte command, out byte[] atqa)
        {
            atqa = new byte[0];
            byte[] response;
            int validBits;
            WriteRegister(Mfrc522Registers.Coll, 0x80);   // clear ValuesAfterColl
            var status = Transceive(new byte[] { command }, 7, out response, out validBits);
            if (status != TransceiveStatus.Ok || response.Length != 2 || validBits != 8)
            {
                return false;
            }

            atqa = response;
            return true;
        }

        /// <summary>Anticollision and SELECT for each cascade level until the SAK says the UID is complete.</summary>
        public bool TrySelect(out byte[] uid)
        {
            uid = new byte[0];
            var collected = new byte[10];
            int collectedLength = 0;
            for (int level = 1; level <= 3; level++)
            {
                byte sel = level == 1 ? Iso14443A.SelCascadeLevel1 : (level == 2 ? Iso14443A.SelCascadeLevel2 : Iso14443A.SelCascadeLevel3);

                // Anticollision: SEL, NVB=0x20 -> 4 UID bytes + BCC.
                byte[] response;
                int validBits;
                var status = Transceive(new byte[] { sel, Iso14443A.NvbAnticollision }, 0, out response, out validBits);
                if (status != TransceiveStatus.Ok || response.Length != 5 || validBits != 8)
                {
                    return false;
                }

                byte bcc = (byte)(response[0] ^ response[1] ^ response[2] ^ response[3]);
                if (bcc != response[4])
                {
                    return false;
                }

                // SELECT: SEL, NVB=0x70, UID CLn, BCC, CRC_A -> SAK + CRC_A.
                var select = new byte[9];
                select[0] = sel;
                select[1] = Iso14443A.NvbSelect;
                for (int i = 0; i < 5; i++)
                {
                    select[2 + i] = response[i];
                }

                var crc = CalculateCrc(select, 0, 7);
                select[7] = crc[0];
                select[8] = crc[1];
                byte[] sakFrame;
                status = Transceive(select, 0, out sakFrame, out validBits);
                if (status != TransceiveStatus.Ok || sakFrame.Length != 3 || validBits != 8)
                {
                    return false;
                }

                var sakCrc = CalculateCrc(sakFrame, 0, 1);
                if (sakCrc[0] != sakFrame[1] || sakCrc[1] != sakFrame[2])
                {
                    return false;
                }

                byte sak = sakFrame[0];
                bool complete = (sak & Iso14443A.SakUidNotComplete) == 0;
                if (!complete && response[0] != Iso14443A.CascadeTag)
                {
                    return false;
                }

                if (complete)
                {
                    for (int i = 0; i < 4; i++)
                    {
                        collected[collectedLength++] = response[i];
                    }

                    LastSak = sak;
                    uid = new byte[collectedLength];
                    for (int i = 0; i < collectedLength; i++)
                    {
                        uid[i] = collected[i];
                    }

                    return true;
                }

                // Cascade tag first: three UID bytes at this level, the rest at the next.
                for (int i = 1; i < 4; i++)
                {
                    collected[collectedLength++] = response[i];
                }
            }

            return false;
        }

        /// <summary>HLTA: the selected card goes to HALT. A card that answers at all has NAKed it.</summary>
        public void Halt()
        {
            var frame = new byte[] { Iso14443A.Halt, 0x00, 0x00, 0x00 };
            var crc = CalculateCrc(frame, 0, 2);
            frame[2] = crc[0];
            frame[3] = crc[1];
            byte[] response;
            int validBits;
            Transceive(frame, 0, out response, out validBits);
            WriteRegister(Mfrc522Registers.Command, Mfrc522Commands.Idle);
        }

        /// <summary>CRC_A of the bytes on the chip's CRC coprocessor; returns {low, high} as sent on air.</summary>
        public byte[] CalculateCrc(byte[] data, int offset, int count)
        {
            WriteRegister(Mfrc522Registers.Command, Mfrc522Commands.Idle);
            WriteRegister(Mfrc522Registers.DivIrq, Mfrc522Commands.CrcIrq);      // clear CRCIRq (Set2 = 0)
            WriteRegister(Mfrc522Registers.FifoLevel, Mfrc522Commands.FlushBuffer);
            WriteFifo(data, offset, count);
            WriteRegister(Mfrc522Registers.Command, Mfrc522Commands.CalcCrc);
            int polls = 0;
            while ((ReadRegister(Mfrc522Registers.DivIrq) & Mfrc522Commands.CrcIrq) == 0)
            {
                if (++polls > MaxPolls)
                {
                    throw new DriverException(DriverError.Timeout, "MFRC522 CRC coprocessor did not finish (" + count + " bytes).");
                }

                _clock.Sleep(1);
            }

            WriteRegister(Mfrc522Registers.Command, Mfrc522Commands.Idle);
            return new byte[] { ReadRegister(Mfrc522Registers.CrcResultLow), ReadRegister(Mfrc522Registers.CrcResultHigh) };
        }

        internal TransceiveStatus Transceive(byte[] send, int txLastBits, out byte[] response, out int validBitsInLastByte)
        {
            response = new byte[0];
            validBitsInLastByte = 0;
            WriteRegister(Mfrc522Registers.Command, Mfrc522Commands.Idle);
            WriteRegister(Mfrc522Registers.ComIrq, Mfrc522Commands.AllComIrqs);   // clear all (Set1 = 0)
            WriteRegister(Mfrc522Registers.FifoLevel, Mfrc522Commands.FlushBuffer);
            WriteFifo(send, 0, send.Length);
            WriteRegister(Mfrc522Registers.BitFraming, (byte)(txLastBits & 0x07));
            WriteRegister(Mfrc522Registers.Command, Mfrc522Commands.Transceive);
            WriteRegister(Mfrc522Registers.BitFraming, (byte)(Mfrc522Commands.StartSend | (txLastBits & 0x07)));

            int polls = 0;
            byte irq;
            while (true)
            {
                irq = ReadRegister(Mfrc522Registers.ComIrq);
                if ((irq & (Mfrc522Commands.RxIrq | Mfrc522Commands.IdleIrq)) != 0)
                {
                    break;
                }

                if ((irq & Mfrc522Commands.TimerIrq) != 0)
                {
                    WriteRegister(Mfrc522Registers.BitFraming, 0);
                    return TransceiveStatus.NoAnswer;
                }

                if (++polls > MaxPolls)
                {
                    WriteRegister(Mfrc522Registers.BitFraming, 0);
                    throw new DriverException(DriverError.Timeout, "MFRC522 neither received nor timed out after " + MaxPolls + " polls; check the timer set-up.");
                }

                _clock.Sleep(1);
            }

            WriteRegister(Mfrc522Registers.BitFraming, 0);
            byte error = ReadRegister(Mfrc522Registers.Error);
            if ((error & (Mfrc522Commands.BufferOverflowErr | Mfrc522Commands.ParityErr | Mfrc522Commands.ProtocolErr)) != 0)
            {
                return TransceiveStatus.Error;
            }

            if ((error & Mfrc522Commands.CollisionErr) != 0)
            {
                return TransceiveStatus.Collision;
            }

            int length = ReadRegister(Mfrc522Registers.FifoLevel) & 0x7F;
            response = ReadFifo(length);
            int lastBits = ReadRegister(Mfrc522Registers.Control) & 0x07;
            validBitsInLastByte = lastBits == 0 ? 8 : lastBits;
            return TransceiveStatus.Ok;
        }

        public byte ReadRegister(byte register)
        {
            _oneRegister[0] = (byte)(0x80 | ((register << 1) & 0x7E));
            _oneRegister[1] = 0x00;
            _spi.TransferFullDuplex(_oneRegister, _oneRegisterRead);
            return _oneRegisterRead[1];
        }

        public void WriteRegister(byte register, byte value)
        {
            _spi.Write(new byte[] { (byte)((register << 1) & 0x7E), value });
        }

        private void WriteFifo(byte[] data, int offset, int count)
        {
            var frame = new byte[count + 1];
            frame[0] = (byte)((Mfrc522Registers.FifoData << 1) & 0x7E);
            for (int i = 0; i < count; i++)
            {
                frame[1 + i] = data[offset + i];
            }

            _spi.Write(frame);
        }

        private byte[] ReadFifo(int count)
        {
            // Every address byte clocks out the data of the previous one; a final 0x00 ends the burst.
            var write = new byte[count + 1];
            var read = new byte[count + 1];
            byte address = (byte)(0x80 | ((Mfrc522Registers.FifoData << 1) & 0x7E));
            for (int i = 0; i < count; i++)
            {
                write[i] = address;
            }

            _spi.TransferFullDuplex(write, read);
            var result = new byte[count];
            for (int i = 0; i < count; i++)
            {
                result[i] = read[i + 1];
            }

            return result;
        }
    }
}
