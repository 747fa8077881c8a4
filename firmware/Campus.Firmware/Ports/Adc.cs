using System;

namespace Campus.Firmware.Ports
{
    /// <summary>
    /// Analog inputs, shaped after nanoFramework's <c>System.Device.Adc.AdcController</c>.
    /// Channels use the ESP32 numbering (see <see cref="Esp32AdcChannels"/>).
    /// </summary>
    public abstract class AdcController
    {
        public abstract int ChannelCount { get; }

        /// <summary>Largest raw value (4095 for the ESP32's 12-bit converter).</summary>
        public abstract int MaxValue { get; }

        public abstract int MinValue { get; }

        public abstract int ResolutionInBits { get; }

        public abstract AdcChannel OpenChannel(int channelNumber);
    }

    /// <summary>One open analog channel (<c>AdcChannel</c>).</summary>
    public abstract class AdcChannel : IDisposable
    {
        protected AdcChannel(AdcController controller, int channelNumber)
        {
            Controller = controller;
            ChannelNumber = channelNumber;
        }

        public AdcController Controller { get; }

        public int ChannelNumber { get; }

        public abstract int ReadValue();

        /// <summary>The raw value as a fraction of the full range, 0..1.</summary>
        public double ReadRatio()
        {
            int min = Controller.MinValue;
            int max = Controller.MaxValue;
            return (double)(ReadValue() - min) / (max - min);
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

    /// <summary>GPIO to ADC channel numbers of the ESP32 (ADC1 = 0..7, ADC2 = 10..19).</summary>
    public static class Esp32AdcChannels
    {
        private static readonly int[] Gpios = new int[] { 36, 37, 38, 39, 32, 33, 34, 35, -1, -1, 4, 0, 2, 15, 13, 12, 14, 27, 25, 26 };

        /// <summary>The channel of a GPIO, or -1 when the pin has no ADC.</summary>
        public static int ChannelForGpio(int gpio)
        {
            for (int i = 0; i < Gpios.Length; i++)
            {
                if (Gpios[i] == gpio)
                {
                    return i;
                }
            }

            return -1;
        }

        /// <summary>True for ADC1 channels, the only ones usable while Wi-Fi is on.</summary>
        public static bool IsUsableWithWifi(int channel)
        {
            return channel >= 0 && channel <= 7;
        }
    }
}
