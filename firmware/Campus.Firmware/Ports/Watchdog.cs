namespace Campus.Firmware.Ports
{
    /// <summary>
    /// The task watchdog: once started, the firmware must <see cref="Feed"/> it within the timeout or
    /// the chip resets. On an ESP32 this is the task watchdog timer (TWDT) of the main thread.
    /// </summary>
    public abstract class Watchdog
    {
        public abstract bool IsRunning { get; }

        public abstract void Start(int timeoutMs);

        public abstract void Feed();

        public abstract void Stop();
    }
}
