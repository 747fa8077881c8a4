using System;
using System.Text;

namespace Campus.Firmware.Ports
{
    /// <summary>
    /// Small key/value storage that survives a reboot (boot counter, device credentials, HMAC key,
    /// cached allow-list). On an ESP32: files on the internal flash file system (one file per key).
    /// Keys are 1-32 characters of a-z, 0-9, '-', '_', '.'.
    /// </summary>
    public abstract class NonVolatileStore
    {
        public abstract bool TryRead(string key, out byte[] value);

        public abstract void Write(string key, byte[] value);

        /// <summary>Removes the key; false if it was not there.</summary>
        public abstract bool Delete(string key);

        public uint ReadUInt32(string key, uint defaultValue)
        {
            byte[] bytes;
            if (!TryRead(key, out bytes) || bytes.Length != 4)
            {
                return defaultValue;
            }

            return (uint)(bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24));
        }

        public void WriteUInt32(string key, uint value)
        {
            Write(key, new byte[] { (byte)value, (byte)(value >> 8), (byte)(value >> 16), (byte)(value >> 24) });
        }

        public string ReadString(string key, string defaultValue)
        {
            byte[] bytes;
            if (!TryRead(key, out bytes))
            {
                return defaultValue;
            }

            return new string(Encoding.UTF8.GetChars(bytes));
        }

        public void WriteString(string key, string value)
        {
            Write(key, Encoding.UTF8.GetBytes(value));
        }

        /// <summary>Throws unless the key follows the key rule; backends call it on every access.</summary>
        protected static void CheckKey(string key)
        {
            if (key == null || key.Length == 0 || key.Length > 32)
            {
                throw new ArgumentException("A store key has 1-32 characters.", nameof(key));
            }

            for (int i = 0; i < key.Length; i++)
            {
                char c = key[i];
                bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
                if (!ok)
                {
                    throw new ArgumentException("A store key uses a-z, 0-9, '-', '_' and '.'; got '" + key + "'.", nameof(key));
                }
            }
        }
    }
}
