namespace Campus.Firmware.Apps.Energy
{
    /// <summary>
    /// When to send a report, after ESPHome's sensor filters: <b>delta</b> — a value moved by at
    /// least its threshold since the last report; <b>throttle</b> — never more often than once per
    /// throttle period; <b>heartbeat</b> — at least once per heartbeat period even when nothing
    /// moved. A change held back by the throttle goes out when the throttle period ends (values
    /// are compared with the last REPORTED ones, not the last samples).
    /// </summary>
    internal sealed class ReportFilter
    {
        private long _lastReportMs;
        private bool _reported;

        public int ThrottleMs { get; set; }

        public int HeartbeatMs { get; set; }

        /// <summary>Reports sent.</summary>
        public int Reports { get; private set; }

        /// <summary>Samples with a change that the throttle held back.</summary>
        public int Throttled { get; private set; }

        public bool Due(long nowMs, bool changed)
        {
            if (!_reported) return true;
            long since = nowMs - _lastReportMs;
            if (since >= HeartbeatMs) return true;
            if (!changed) return false;
            if (since >= ThrottleMs) return true;
            Throttled++;
            return false;
        }

        public void Reported(long nowMs)
        {
            _reported = true;
            _lastReportMs = nowMs;
            Reports++;
        }

        /// <summary>True when <paramref name="value"/> moved at least <paramref name="threshold"/> from <paramref name="last"/> (or one of them is missing).</summary>
        public static bool Moved(double value, double last, double threshold)
        {
            bool valueMissing = double.IsNaN(value);
            bool lastMissing = double.IsNaN(last);
            if (valueMissing || lastMissing) return valueMissing != lastMissing;
            double change = value - last;
            if (change < 0) change = -change;
            return change >= threshold;
        }
    }
}
