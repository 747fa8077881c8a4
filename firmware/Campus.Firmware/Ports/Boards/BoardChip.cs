namespace Campus.Firmware.Ports
{
    /// <summary>The chips that every board has a pin map for (hardware/pinmaps/KIND.CHIP.json).</summary>
    public static class BoardChip
    {
        public const string Esp32Wroom32 = "esp32-wroom-32";
        public const string Esp32S3 = "esp32-s3";

        /// <summary>True for ESP32-WROOM-32, false for ESP32-S3; any other name is an error.</summary>
        public static bool IsWroom32(string chip)
        {
            if (chip == Esp32Wroom32)
            {
                return true;
            }

            if (chip == Esp32S3)
            {
                return false;
            }

            throw new System.ArgumentException("Unknown chip '" + chip + "'; expected " + Esp32Wroom32 + " or " + Esp32S3 + ".", "chip");
        }
    }
}
