using System;

namespace Campus.Firmware.Ports
{
    /// <summary>Parity bit setting (<c>System.IO.Ports.Parity</c>).</summary>
    public enum Parity
    {
        None = 0,
        Odd = 1,
        Even = 2,
    }

    /// <summary>Stop bits (<c>System.IO.Ports.StopBits</c>).</summary>
    public enum StopBits
    {
        One = 1,
        Two = 2,
    }

    /// <summary>
    /// A UART, shaped after <c>System.IO.Ports.SerialPort</c> (nanoFramework's <c>System.IO.Ports</c>):
    /// byte[] Write/Read with offset and count, timeouts in milliseconds (-1 = wait forever).
    /// <see cref="Read"/> returns as soon as at least one byte is there and throws
    /// <see cref="TimeoutException"/> when nothing arrived within <see cref="ReadTimeout"/>.
    /// </summary>
    public abstract class SerialPort : IDisposable
    {
        public const int InfiniteTimeout = -1;

        protected SerialPort(string portName, int baudRate, Parity parity, int dataBits, StopBits stopBits)
        {
            PortName = portName;
            BaudRate = baudRate;
            Parity = parity;
            DataBits = dataBits;
            StopBits = stopBits;
            ReadTimeout = InfiniteTimeout;
            WriteTimeout = InfiniteTimeout;
        }

        /// <summary>"COM1", "COM2"... (on an ESP32: UART0, UART1, UART2).</summary>
        public string PortName { get; }

        public int BaudRate { get; }

        public Parity Parity { get; }

        public int DataBits { get; }

        public StopBits StopBits { get; }

        public int ReadTimeout { get; set; }

        public int WriteTimeout { get; set; }

        public abstract bool IsOpen { get; }

        /// <summary>Bytes received and not read yet.</summary>
        public abstract int BytesToRead { get; }

        public abstract void Open();

        public abstract void Close();

        public abstract void Write(byte[] buffer, int offset, int count);

        /// <summary>Reads up to <paramref name="count"/> bytes; at least one, or throws <see cref="TimeoutException"/>.</summary>
        public abstract int Read(byte[] buffer, int offset, int count);

        public abstract void DiscardInBuffer();

        public void Dispose()
        {
            Dispose(true);
            GC.SuppressFinalize(this);
        }

        protected virtual void Dispose(bool disposing)
        {
            if (disposing && IsOpen)
            {
                Close();
            }
        }
    }
}
