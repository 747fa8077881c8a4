using Campus.Firmware.Common;
using Campus.Firmware.Ports;

namespace Campus.Firmware.Apps.Energy
{
    /// <summary>
    /// Cumulative energy from power samples (trapezoid rule over the monotonic clock), kept in
    /// the non-volatile store so a reboot does not reset the counter. Saved every
    /// <see cref="SaveEveryMs"/> and on <see cref="Save"/>; at most that much is lost on a power cut.
    /// </summary>
    internal sealed class EnergyCounter
    {
        public const string StoreKey = "energy.kwh";

        private readonly NonVolatileStore _store;
        private double _kwh;
        private double _lastPowerW;
        private long _lastSampleMs;
        private bool _hasSample;
        private long _lastSaveMs;

        public EnergyCounter(NonVolatileStore store)
        {
            _store = store;
            SaveEveryMs = 60000;
            JsonNode saved;
            if (JsonReader.TryParse(store.ReadString(StoreKey, ""), out saved)) _kwh = saved.AsNumber(0);
            if (_kwh < 0 || double.IsNaN(_kwh)) _kwh = 0;
        }

        public int SaveEveryMs { get; set; }

        public double Kwh
        {
            get { return _kwh; }
        }

        /// <summary>Adds the energy since the previous sample; a negative power counts as zero.</summary>
        public void AddSample(double powerW, long nowMs)
        {
            if (double.IsNaN(powerW) || powerW < 0) powerW = 0;
            if (_hasSample && nowMs > _lastSampleMs)
            {
                double hours = (nowMs - _lastSampleMs) / 3600000.0;
                _kwh += (powerW + _lastPowerW) / 2.0 * hours / 1000.0;
            }
            else if (!_hasSample)
            {
                _lastSaveMs = nowMs;
            }
            _hasSample = true;
            _lastPowerW = powerW;
            _lastSampleMs = nowMs;
            if (nowMs - _lastSaveMs >= SaveEveryMs) Save(nowMs);
        }

        /// <summary>A gap in sampling (sensor error): the next sample starts a new interval.</summary>
        public void Break()
        {
            _hasSample = false;
        }

        public void Save(long nowMs)
        {
            System.Text.StringBuilder text = new System.Text.StringBuilder(24);
            JsonWriter.AppendNumber(text, _kwh, 9);
            _store.WriteString(StoreKey, text.ToString());
            _lastSaveMs = nowMs;
        }
    }
}
