using System;

namespace Campus.Firmware.Ports
{
    /// <summary>Standard or fast mode (<c>System.Device.I2c.I2cBusSpeed</c>).</summary>
    public enum I2cBusSpeed
    {
        StandardMode = 0,
        FastMode = 1,
    }

    /// <summary>Outcome of one I2C transfer (nanoFramework's <c>I2cTransferStatus</c>).</summary>
    public enum I2cTransferStatus
    {
        UnknownError = 0,
        FullTransfer = 1,
        ClockStretchTimeout = 2,
        PartialTransfer = 3,
        SlaveAddressNotAcknowledged = 4,
    }

    /// <summary>Status and byte count of one transfer (nanoFramework's <c>I2cTransferResult</c>).</summary>
    public struct I2cTransferResult
    {
        public I2cTransferResult(I2cTransferStatus status, int bytesTransferred)
        {
            Status = status;
            BytesTransferred = bytesTransferred;
        }

        public I2cTransferStatus Status { get; }

        public int BytesTransferred { get; }
    }

    /// <summary>Bus and 7-bit address of one I2C device (<c>I2cConnectionSettings</c>).</summary>
    public sealed class I2cConnectionSettings
    {
        public I2cConnectionSettings(int busId, int deviceAddress)
            : this(busId, deviceAddress, I2cBusSpeed.StandardMode)
        {
        }

        public I2cConnectionSettings(int busId, int deviceAddress, I2cBusSpeed busSpeed)
        {
            if (deviceAddress < 0x08 || deviceAddress > 0x77)
            {
                throw new ArgumentOutOfRangeException(nameof(deviceAddress), "A 7-bit I2C address is 0x08..0x77.");
            }

            BusId = busId;
            DeviceAddress = deviceAddress;
            BusSpeed = busSpeed;
        }

        public int BusId { get; }

        public int DeviceAddress { get; }

        public I2cBusSpeed BusSpeed { get; }
    }

    /// <summary>
    /// One device on an I2C bus, shaped after <c>System.Device.I2c.I2cDevice</c> (nanoFramework flavour:
    /// transfers return an <see cref="I2cTransferResult"/>; a missing device is
    /// <see cref="I2cTransferStatus.SlaveAddressNotAcknowledged"/>, not an exception).
    /// </summary>
    public abstract class I2cDevice : IDisposable
    {
        public abstract I2cConnectionSettings ConnectionSettings { get; }

        /// <summary>START, address+W, the bytes, STOP.</summary>
        public abstract I2cTransferResult Write(byte[] buffer);

        /// <summary>START, address+R, fills the buffer, STOP.</summary>
        public abstract I2cTransferResult Read(byte[] buffer);

        /// <summary>Write then repeated START and read, as one transaction (register reads).</summary>
        public abstract I2cTransferResult WriteRead(byte[] writeBuffer, byte[] readBuffer);

        public I2cTransferResult WriteByte(byte value)
        {
            return Write(new byte[] { value });
        }

        public byte ReadByte()
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
