namespace Campus.Firmware.Drivers
{
    /// <summary>The checksums the drivers' chips use.</summary>
    public static class Checksums
    {
        /// <summary>Sensirion CRC-8: polynomial 0x31 (x^8 + x^5 + x^4 + 1), init 0xFF, no reflection, no final XOR.</summary>
        public static byte Crc8Sensirion(byte[] data, int offset, int count)
        {
            int crc = 0xFF;
            for (int i = offset; i < offset + count; i++)
            {
                crc ^= data[i];
                for (int bit = 0; bit < 8; bit++)
                {
                    crc = (crc & 0x80) != 0 ? ((crc << 1) ^ 0x31) & 0xFF : (crc << 1) & 0xFF;
                }
            }

            return (byte)crc;
        }

        /// <summary>CRC-16/MODBUS: reflected polynomial 0xA001, init 0xFFFF; sent low byte first.</summary>
        public static ushort Crc16Modbus(byte[] data, int offset, int count)
        {
            int crc = 0xFFFF;
            for (int i = offset; i < offset + count; i++)
            {
                crc ^= data[i];
                for (int bit = 0; bit < 8; bit++)
                {
                    crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xA001 : crc >> 1;
                }
            }

            return (ushort)crc;
        }

        /// <summary>CRC_A of ISO/IEC 14443-3 (what the MFRC522's coprocessor computes with preset 0x6363); low byte first.</summary>
        public static ushort CrcA(byte[] data, int offset, int count)
        {
            int crc = 0x6363;
            for (int i = offset; i < offset + count; i++)
            {
                int b = data[i] ^ (crc & 0xFF);
                b = (b ^ (b << 4)) & 0xFF;
                crc = ((crc >> 8) ^ (b << 8) ^ (b << 3) ^ (b >> 4)) & 0xFFFF;
            }

            return (ushort)crc;
        }
    }
}
