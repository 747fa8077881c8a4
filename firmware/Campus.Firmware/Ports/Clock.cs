using System;

namespace Campus.Firmware.Ports
{
    /// <summary>
    /// Time for firmware code. On a device: <c>DateTime.UtcNow</c> (set by SNTP),
    /// <c>Environment.TickCount64</c> and <c>Thread.Sleep</c>. In the simulators the clock follows
    /// simulation time, so firmware must take time ONLY from here (no Thread.Sleep, no DateTime.UtcNow,
    /// no System.Threading.Timer for timing logic).
    /// </summary>
    public abstract class Clock
    {
        private static readonly DateTime UnixEpoch = new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc);

        /// <summary>Wall-clock time, UTC. Meaningless until <see cref="IsTimeSet"/>.</summary>
        public abstract DateTime UtcNow { get; }

        /// <summary>True once the wall clock was set (SNTP answered).</summary>
        public abstract bool IsTimeSet { get; }

        /// <summary>Milliseconds since boot; monotonic, unaffected by clock setting.</summary>
        public abstract long TickCountMs { get; }

        /// <summary>Blocks the calling thread for the given milliseconds of (device or simulated) time.</summary>
        public abstract void Sleep(int milliseconds);

        /// <summary>Unix milliseconds UTC, or 0 while the clock is not set (the payload rule for <c>ts</c>).</summary>
        public long UnixTimeMilliseconds
        {
            get
            {
                if (!IsTimeSet)
                {
                    return 0;
                }

                return (UtcNow.Ticks - UnixEpoch.Ticks) / TimeSpan.TicksPerMillisecond;
            }
        }

        /// <summary>Converts Unix milliseconds to a UTC <see cref="DateTime"/>.</summary>
        public static DateTime FromUnixTimeMilliseconds(long unixMs)
        {
            return new DateTime(UnixEpoch.Ticks + (unixMs * TimeSpan.TicksPerMillisecond), DateTimeKind.Utc);
        }
    }
}
