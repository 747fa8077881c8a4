using System;

namespace Campus.Firmware.Ports
{
    /// <summary>Clock polarity and phase (<c>System.Device.Spi.SpiMode</c>).</summary>
    public enum SpiMode
    {
        Mode0 = 0,
        Mode1 = 1,
        Mode2 = 2,
        Mode3 = 3,
    }

    /// <summary>Bus, chip select and timing of one SPI device (<c>SpiConnectionSettings</c>).</summary>
    public sealed class SpiConnectionSettings
    {
        public SpiConnectionSettings(int busId, int chipSelectLine)
        {
            BusId = busId;
            ChipSelectLine = chipSelectLine;
            ClockFrequency = 1000000;
            Mode = SpiMode.Mode0;
            DataBitLength = 8;
        }

        public int BusId { get; }

        /// <summary>GPIO number of the chip-select line.</summary>
        public int ChipSelectLine { get; }

        public int ClockFrequency { get; set; }

        public SpiMode Mode { get; set; }

        public int DataBitLength { get; set; }
    }

    /// <summary>
    /// One device on an SPI bus, shaped after <c>System.Device.Spi.SpiDevice</c> with byte[] buffers
    /// (nanoFramework's SpanByte overloads map one to one). Each call is one chip-select frame.
    /// </summary>
    public abstract class SpiDevice : IDisposable
    {
        public abstract SpiConnectionSettings ConnectionSettings { get; }

        /// <summary>Clocks <paramref name="buffer"/> out; what comes back is discarded.</summary>
        public abstract void Write(byte[] buffer);

        /// <summary>Clocks zeros out and fills <paramref name="buffer"/> with what comes back.</summary>
        public abstract void Read(byte[] buffer);

        /// <summary>Clocks <paramref name="writeBuffer"/> out while filling <paramref name="readBuffer"/> (same length).</summary>
        public abstract void TransferFullDuplex(byte[] writeBuffer, byte[] readBuffer);

        public virtual void WriteByte(byte value)
        {
            Write(new byte[] { value });
        }

        public virtual byte ReadByte()
        {
            var buffer = new byte[1];
            Read(buffer);
            return buffer[0];
        }

        public void Dispose()
        {
            Dispose(true);
            GC.SuppressFinalize(this);
        }

        protected virtual void Dispose(bool disposing)
        {
        }
    }
}
