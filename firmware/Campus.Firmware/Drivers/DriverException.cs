using System;

namespace Campus.Firmware.Drivers
{
    /// <summary>What went wrong talking to a chip.</summary>
    public enum DriverError
    {
        /// <summary>The chip did not acknowledge its address or reported the wrong identity.</summary>
        NoDevice = 1,

        /// <summary>A checksum over received data did not match.</summary>
        CrcMismatch = 2,

        /// <summary>No (complete) answer within the allowed time.</summary>
        Timeout = 3,

        /// <summary>An answer that breaks the chip's protocol (length, echo, framing).</summary>
        ProtocolError = 4,

        /// <summary>The chip answered with an error of its own (e.g. a Modbus exception response).</summary>
        DeviceError = 5,
    }

    /// <summary>The single exception type of the drivers; the message states expected and actual values.</summary>
    public class DriverException : Exception
    {
        public DriverException(DriverError error, string message)
            : base(message)
        {
            Error = error;
        }

        public DriverError Error { get; }
    }
}
