using Campus.Firmware.Ports;

namespace Campus.Simulators.Chips;

/// <summary>
/// An MFRC522 as seen over SPI: 64 registers, the 64-byte FIFO, the Idle, CalcCRC, Transceive and
/// SoftReset commands, interrupt request bits with their Set1/Set2 semantics and the timer timeout,
/// plus an ISO/IEC 14443-3 type A card in the field (IDLE, READY, ACTIVE, HALT states; REQA, WUPA,
/// anticollision and SELECT per cascade level, HLTA). A card only answers while the antenna is on.
/// </summary>
public sealed class Mfrc522Model : SpiDevice
{
    private const int FifoSize = 64;
    private readonly object _sync = new();
    private readonly byte[] _registers = new byte[64];
    private readonly Queue<byte> _fifo = new();
    private readonly SpiConnectionSettings _settings;
    private readonly List<Card> _cards = new();

    public Mfrc522Model(SpiConnectionSettings settings, byte version = 0x92)
    {
        _settings = settings;
        Version = version;
        Reset();
    }

    public byte Version { get; }

    public override SpiConnectionSettings ConnectionSettings => _settings;

    /// <summary>Frames the chip sent to the card (after the driver's StartSend).</summary>
    public int TransceiveCount { get; private set; }

    /// <summary>HLTA frames the card accepted.</summary>
    public int HaltCount { get; private set; }

    public bool IsAntennaOn
    {
        get
        {
            lock (_sync)
            {
                return (_registers[Reg.TxControl] & 0x03) == 0x03;
            }
        }
    }

    /// <summary>Puts a card with a 4-, 7- or 10-byte UID into the field (powered up, IDLE).</summary>
    public void PlaceCard(byte[] uid)
    {
        ArgumentNullException.ThrowIfNull(uid);
        if (uid.Length is not (4 or 7 or 10))
        {
            throw new ArgumentException($"An ISO 14443A UID has 4, 7 or 10 bytes; got {uid.Length}.", nameof(uid));
        }

        if (uid[0] == 0x88)
        {
            throw new ArgumentException("A UID cannot start with the cascade tag 0x88.", nameof(uid));
        }

        lock (_sync)
        {
            _cards.Clear();
            _cards.Add(new Card((byte[])uid.Clone()));
        }
    }

    /// <summary>Adds another card to the field: two cards answering anticollision differently collide.</summary>
    public void PlaceAnotherCard(byte[] uid)
    {
        ArgumentNullException.ThrowIfNull(uid);
        lock (_sync)
        {
            var existing = _cards.ToList();
            PlaceCard(uid);
            _cards.InsertRange(0, existing);
        }
    }

    /// <summary>Takes every card out of the field (they lose power and their state).</summary>
    public void RemoveCard()
    {
        lock (_sync)
        {
            _cards.Clear();
        }
    }

    public bool HasCard
    {
        get
        {
            lock (_sync)
            {
                return _cards.Count > 0;
            }
        }
    }

    public override void Write(byte[] buffer) => TransferFullDuplex(buffer, new byte[buffer.Length]);

    public override void Read(byte[] buffer) => TransferFullDuplex(new byte[buffer.Length], buffer);

    /// <summary>
    /// One chip-select frame. Byte 0 is the address byte (bit 7 = read, bits 6..1 = register). For a
    /// read, every later byte clocks out the register addressed by the byte before it; for a write,
    /// every later byte is written to the addressed register (bursts go to the FIFO).
    /// </summary>
    public override void TransferFullDuplex(byte[] writeBuffer, byte[] readBuffer)
    {
        if (writeBuffer.Length != readBuffer.Length)
        {
            throw new ArgumentException($"Full duplex buffers must match: {writeBuffer.Length} vs {readBuffer.Length} bytes.");
        }

        if (writeBuffer.Length == 0)
        {
            return;
        }

        lock (_sync)
        {
            readBuffer[0] = 0;
            bool read = (writeBuffer[0] & 0x80) != 0;
            if (read)
            {
                for (int i = 1; i < writeBuffer.Length; i++)
                {
                    readBuffer[i] = ReadRegister((writeBuffer[i - 1] >> 1) & 0x3F);
                }
            }
            else
            {
                int register = (writeBuffer[0] >> 1) & 0x3F;
                for (int i = 1; i < writeBuffer.Length; i++)
                {
                    readBuffer[i] = 0;
                    WriteRegister(register, writeBuffer[i]);
                }
            }
        }
    }

    private byte ReadRegister(int register)
    {
        switch (register)
        {
            case Reg.FifoData:
                return _fifo.Count > 0 ? _fifo.Dequeue() : (byte)0;
            case Reg.FifoLevel:
                return (byte)_fifo.Count;
            case Reg.Version:
                return Version;
            default:
                return _registers[register];
        }
    }

    private void WriteRegister(int register, byte value)
    {
        switch (register)
        {
            case Reg.Command:
                _registers[Reg.Command] = (byte)(value & 0x2F);   // the oscillator is always running: PowerDown reads 0
                Execute(value & 0x0F);
                break;
            case Reg.ComIrq:
                // Set1 (bit 7): 1 sets the marked bits, 0 clears them.
                _registers[Reg.ComIrq] = (value & 0x80) != 0 ? (byte)(_registers[Reg.ComIrq] | (value & 0x7F)) : (byte)(_registers[Reg.ComIrq] & ~(value & 0x7F));
                break;
            case Reg.DivIrq:
                _registers[Reg.DivIrq] = (value & 0x80) != 0 ? (byte)(_registers[Reg.DivIrq] | (value & 0x7F)) : (byte)(_registers[Reg.DivIrq] & ~(value & 0x7F));
                break;
            case Reg.FifoData:
                if (_fifo.Count >= FifoSize)
                {
                    _registers[Reg.Error] |= 0x10;   // BufferOvfl
                }
                else
                {
                    _fifo.Enqueue(value);
                }

                break;
            case Reg.FifoLevel:
                if ((value & 0x80) != 0)
                {
                    _fifo.Clear();
                    _registers[Reg.Error] &= 0xEF;
                }

                break;
            case Reg.BitFraming:
                _registers[Reg.BitFraming] = (byte)(value & 0x7F);
                if ((value & 0x80) != 0 && (_registers[Reg.Command] & 0x0F) == Cmd.Transceive)
                {
                    Transceive(value & 0x07);
                }

                break;
            case Reg.Error:
            case Reg.Version:
            case Reg.Status1:
                break;   // read-only
            default:
                _registers[register] = value;
                break;
        }
    }

    private void Execute(int command)
    {
        switch (command)
        {
            case Cmd.SoftReset:
                Reset();
                break;
            case Cmd.CalcCrc:
                var data = _fifo.ToArray();
                _fifo.Clear();
                ushort crc = CrcA(data, (_registers[Reg.Mode] & 0x03) switch { 0 => 0x0000, 1 => 0x6363, 2 => 0xA671, _ => 0xFFFF });
                _registers[Reg.CrcResultLow] = (byte)crc;
                _registers[Reg.CrcResultHigh] = (byte)(crc >> 8);
                _registers[Reg.DivIrq] |= 0x04;   // CRCIRq
                break;
            case Cmd.Idle:
                break;
            default:
                break;   // Transceive waits for StartSend; other commands are not modelled
        }
    }

    private void Transceive(int txLastBits)
    {
        TransceiveCount++;
        var frame = _fifo.ToArray();
        _fifo.Clear();
        _registers[Reg.Error] = 0;
        _registers[Reg.Control] &= 0xF8;
        _registers[Reg.ComIrq] |= 0x40;   // TxIRq
        byte[]? answer = null;
        bool collision = false;
        if (IsAntennaOnLocked)
        {
            foreach (var card in _cards)
            {
                var reply = card.Receive(frame, txLastBits, out bool halted);
                if (halted)
                {
                    HaltCount++;
                }

                if (reply is null)
                {
                    continue;
                }

                // Several cards answer at once: identical bits add up, different bits collide.
                if (answer is not null && !answer.AsSpan().SequenceEqual(reply))
                {
                    collision = true;
                }

                answer ??= reply;
            }
        }

        if (collision)
        {
            _registers[Reg.Error] |= 0x08;   // CollErr
            _registers[Reg.Coll] = 0x00;     // collision position valid (bit 5 clear); position not modelled
            _registers[Reg.ComIrq] |= 0x22;  // RxIRq | ErrIRq
            return;
        }

        if (answer is null)
        {
            // Nothing received: with TAuto the timer starts at the end of transmission and runs out.
            if ((_registers[Reg.TMode] & 0x80) != 0)
            {
                _registers[Reg.ComIrq] |= 0x01;   // TimerIRq
            }

            return;
        }

        foreach (var b in answer)
        {
            _fifo.Enqueue(b);
        }

        _registers[Reg.ComIrq] |= 0x20;   // RxIRq
    }

    private bool IsAntennaOnLocked => (_registers[Reg.TxControl] & 0x03) == 0x03;

    private void Reset()
    {
        Array.Clear(_registers);
        _fifo.Clear();
        _registers[Reg.Command] = 0x20;      // RcvOff clear, PowerDown clear after the oscillator started
        _registers[Reg.ComIEn] = 0x80;
        _registers[Reg.ComIrq] = 0x14;
        _registers[Reg.Control] = 0x10;
        _registers[Reg.Mode] = 0x3F;
        _registers[Reg.TxMode] = 0x00;
        _registers[Reg.RxMode] = 0x00;
        _registers[Reg.TxControl] = 0x80;     // antenna drivers off after reset
        _registers[Reg.WaterLevel] = 0x08;
        _registers[Reg.RfCfg] = 0x48;
    }

    /// <summary>CRC_A: polynomial x^16 + x^12 + x^5 + 1, LSB first (reflected 0x8408), given preset.</summary>
    internal static ushort CrcA(ReadOnlySpan<byte> data, int preset)
    {
        int crc = preset;
        foreach (var b in data)
        {
            crc ^= b;
            for (int i = 0; i < 8; i++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x8408 : crc >> 1;
            }
        }

        return (ushort)crc;
    }

    private static class Reg
    {
        public const int Command = 0x01, ComIEn = 0x02, ComIrq = 0x04, DivIrq = 0x05, Error = 0x06, Status1 = 0x07;
        public const int FifoData = 0x09, FifoLevel = 0x0A, WaterLevel = 0x0B, Control = 0x0C, BitFraming = 0x0D;
        public const int Coll = 0x0E, Mode = 0x11, TxMode = 0x12, RxMode = 0x13, TxControl = 0x14, CrcResultHigh = 0x21, CrcResultLow = 0x22;
        public const int RfCfg = 0x26, TMode = 0x2A, Version = 0x37;
    }

    private static class Cmd
    {
        public const int Idle = 0x00, CalcCrc = 0x03, Transceive = 0x0C, SoftReset = 0x0F;
    }

    private enum CardState
    {
        Idle,
        Ready,
        Active,
        Halt,
    }

    /// <summary>A PICC: ISO/IEC 14443-3 type A state machine with cascade levels.</summary>
    private sealed class Card(byte[] uid)
    {
        private CardState _state = CardState.Idle;
        private int _level = 1;

        private int Levels => uid.Length switch { 4 => 1, 7 => 2, _ => 3 };

        public byte[]? Receive(byte[] frame, int txLastBits, out bool halted)
        {
            halted = false;
            if (txLastBits == 7 && frame.Length == 1)
            {
                bool wake = frame[0] == 0x52;
                bool request = frame[0] == 0x26;
                if ((request && _state == CardState.Idle) || (wake && (_state is CardState.Idle or CardState.Halt)))
                {
                    _state = CardState.Ready;
                    _level = 1;
                    byte sizeBits = (byte)((Levels - 1) << 6);
                    return new byte[] { (byte)(sizeBits | 0x04), 0x00 };   // ATQA, bit-frame anticollision
                }

                return null;
            }

            if (txLastBits != 0)
            {
                return Fail();
            }

            if (_state == CardState.Active && frame.Length == 4 && frame[0] == 0x50 && frame[1] == 0x00 && CrcOk(frame))
            {
                _state = CardState.Halt;
                halted = true;
                return null;
            }

            if (_state != CardState.Ready || frame.Length < 2 || frame[0] != SelCode(_level))
            {
                return Fail();
            }

            var cln = CascadeBytes(_level);
            if (frame[1] == 0x20 && frame.Length == 2)
            {
                return cln;
            }

            if (frame[1] == 0x70 && frame.Length == 9 && CrcOk(frame) && frame.AsSpan(2, 5).SequenceEqual(cln))
            {
                bool more = _level < Levels;
                byte sak;
                if (more)
                {
                    sak = 0x04;
                    _level++;
                }
                else
                {
                    sak = uid.Length == 4 ? (byte)0x08 : (byte)0x00;   // MIFARE Classic 1K / Ultralight-like
                    _state = CardState.Active;
                }

                ushort crc = CrcA(new[] { sak }, 0x6363);
                return new[] { sak, (byte)crc, (byte)(crc >> 8) };
            }

            return Fail();
        }

        private byte[]? Fail()
        {
            // An unexpected frame sends a READY/ACTIVE card back to IDLE; a halted card stays halted.
            if (_state != CardState.Halt)
            {
                _state = CardState.Idle;
            }

            return null;
        }

        private static byte SelCode(int level) => level switch { 1 => 0x93, 2 => 0x95, _ => 0x97 };

        private byte[] CascadeBytes(int level)
        {
            var bytes = new byte[5];
            bool last = level == Levels;
            int start = level switch { 1 => 0, 2 => 3, _ => 6 };
            if (last)
            {
                Array.Copy(uid, start, bytes, 0, 4);
            }
            else
            {
                bytes[0] = 0x88;
                Array.Copy(uid, start, bytes, 1, 3);
            }

            bytes[4] = (byte)(bytes[0] ^ bytes[1] ^ bytes[2] ^ bytes[3]);
            return bytes;
        }

        private static bool CrcOk(byte[] frame)
        {
            ushort crc = CrcA(frame.AsSpan(0, frame.Length - 2), 0x6363);
            return frame[^2] == (byte)crc && frame[^1] == (byte)(crc >> 8);
        }
    }
}
