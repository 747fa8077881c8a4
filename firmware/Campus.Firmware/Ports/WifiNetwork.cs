using System;

namespace Campus.Firmware.Ports
{
    /// <summary>Whether the network is usable now.</summary>
    public sealed class NetworkAvailabilityEventArgs : EventArgs
    {
        public NetworkAvailabilityEventArgs(bool isAvailable)
        {
            IsAvailable = isAvailable;
        }

        public bool IsAvailable { get; }
    }

    public delegate void NetworkAvailabilityChangedEventHandler(object sender, NetworkAvailabilityEventArgs e);

    /// <summary>
    /// Wi-Fi station status and control. On a device: nanoFramework's <c>WifiNetworkHelper.ConnectDhcp</c>,
    /// <c>NetworkChange.NetworkAvailabilityChanged</c> and the Wi-Fi adapter's RSSI.
    /// </summary>
    public abstract class WifiNetwork
    {
        /// <summary>Raised when the link comes up (with an address) or goes down.</summary>
        public event NetworkAvailabilityChangedEventHandler? AvailabilityChanged;

        /// <summary>Associated with the access point and holding an IP address.</summary>
        public abstract bool IsConnected { get; }

        /// <summary>Signal strength in dBm (e.g. -61); 0 when not connected.</summary>
        public abstract int Rssi { get; }

        /// <summary>Dotted IPv4 address, empty when not connected.</summary>
        public abstract string IpAddress { get; }

        /// <summary>Joins the network and waits for DHCP; false after <paramref name="timeoutMs"/>.</summary>
        public abstract bool Connect(string ssid, string password, int timeoutMs);

        public abstract void Disconnect();

        /// <summary>Backends call this on every link change.</summary>
        protected void OnAvailabilityChanged(bool isAvailable)
        {
            var handler = AvailabilityChanged;
            if (handler != null)
            {
                handler(this, new NetworkAvailabilityEventArgs(isAvailable));
            }
        }
    }
}
