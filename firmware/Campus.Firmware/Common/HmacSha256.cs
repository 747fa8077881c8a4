using System.Text;

namespace Campus.Firmware.Common
{
    /// <summary>HMAC-SHA256 (RFC 2104) over <see cref="Sha256"/>.</summary>
    internal sealed class HmacSha256
    {
        private readonly byte[] _innerPad = new byte[Sha256.BlockSize];
        private readonly byte[] _outerPad = new byte[Sha256.BlockSize];
        private readonly Sha256 _inner = new Sha256();
        private readonly Sha256 _outer = new Sha256();

        public HmacSha256(byte[] key)
        {
            byte[] k = key.Length > Sha256.BlockSize ? Sha256.Hash(key) : key;
            for (int i = 0; i < Sha256.BlockSize; i++)
            {
                byte b = i < k.Length ? k[i] : (byte)0;
                _innerPad[i] = (byte)(b ^ 0x36);
                _outerPad[i] = (byte)(b ^ 0x5c);
            }
            _inner.Append(_innerPad);
        }

        public void Append(byte[] data, int offset, int count)
        {
            _inner.Append(data, offset, count);
        }

        public void Append(byte[] data)
        {
            _inner.Append(data, 0, data.Length);
        }

        /// <summary>Returns the 32-byte MAC and resets for the next message with the same key.</summary>
        public byte[] Finish()
        {
            byte[] innerHash = _inner.Finish();
            _inner.Append(_innerPad);
            _outer.Append(_outerPad);
            _outer.Append(innerHash);
            return _outer.Finish();
        }

        public static byte[] Compute(byte[] key, byte[] message)
        {
            HmacSha256 mac = new HmacSha256(key);
            mac.Append(message);
            return mac.Finish();
        }
    }

    /// <summary>
    /// Signs door events as the contract says: the MAC covers <c>{device}\n</c> followed by the
    /// UTF-8 document without its <c>sig</c> member, and <c>sig</c> (base64) is added as the last member.
    /// </summary>
    internal sealed class EventSigner
    {
        private readonly HmacSha256 _mac;
        private readonly byte[] _prefix;

        public EventSigner(string deviceId, byte[] key)
        {
            _mac = new HmacSha256(key);
            _prefix = Encoding.UTF8.GetBytes(deviceId + "\n");
        }

        /// <summary>The base64 MAC of a complete unsigned document (ending with '}').</summary>
        public string Signature(string unsignedDocument)
        {
            lock (_mac)
            {
                _mac.Append(_prefix);
                _mac.Append(Encoding.UTF8.GetBytes(unsignedDocument));
                return System.Convert.ToBase64String(_mac.Finish());
            }
        }

        /// <summary>Adds <c>,"sig":"…"</c> as the last member of a complete unsigned object document.</summary>
        public string Sign(string unsignedDocument)
        {
            string signature = Signature(unsignedDocument);
            StringBuilder text = new StringBuilder(unsignedDocument.Length + 60);
            text.Append(unsignedDocument.Substring(0, unsignedDocument.Length - 1));
            text.Append(",\"sig\":\"");
            text.Append(signature);
            text.Append("\"}");
            return text.ToString();
        }
    }
}
