namespace Campus.Firmware.Drivers
{
    /// <summary>
    /// A 1-bit-per-pixel canvas, row-major, most significant bit leftmost; a set bit is ink (black).
    /// Everything outside the canvas is clipped.
    /// </summary>
    public sealed class FrameBuffer
    {
        public FrameBuffer(int width, int height)
        {
            if (width <= 0 || height <= 0)
            {
                throw new System.ArgumentException("A frame buffer needs a positive width and height.");
            }

            Width = width;
            Height = height;
            BytesPerRow = (width + 7) / 8;
            Buffer = new byte[BytesPerRow * height];
        }

        public int Width { get; }

        public int Height { get; }

        public int BytesPerRow { get; }

        /// <summary>The raw bits (1 = ink).</summary>
        public byte[] Buffer { get; }

        public void Clear()
        {
            Fill(false);
        }

        public void Fill(bool ink)
        {
            byte value = ink ? (byte)0xFF : (byte)0x00;
            for (int i = 0; i < Buffer.Length; i++)
            {
                Buffer[i] = value;
            }
        }

        public void SetPixel(int x, int y, bool ink)
        {
            if (x < 0 || y < 0 || x >= Width || y >= Height)
            {
                return;
            }

            int index = (y * BytesPerRow) + (x >> 3);
            byte mask = (byte)(0x80 >> (x & 7));
            if (ink)
            {
                Buffer[index] |= mask;
            }
            else
            {
                Buffer[index] &= (byte)~mask;
            }
        }

        public bool GetPixel(int x, int y)
        {
            if (x < 0 || y < 0 || x >= Width || y >= Height)
            {
                return false;
            }

            return (Buffer[(y * BytesPerRow) + (x >> 3)] & (0x80 >> (x & 7))) != 0;
        }

        public void FillRect(int x, int y, int width, int height, bool ink)
        {
            for (int row = y; row < y + height; row++)
            {
                for (int col = x; col < x + width; col++)
                {
                    SetPixel(col, row, ink);
                }
            }
        }

        public void DrawRect(int x, int y, int width, int height, bool ink)
        {
            FillRect(x, y, width, 1, ink);
            FillRect(x, y + height - 1, width, 1, ink);
            FillRect(x, y, 1, height, ink);
            FillRect(x + width - 1, y, 1, height, ink);
        }

        /// <summary>Width in pixels of <paramref name="text"/> at <paramref name="scale"/> (cells of 6 x scale).</summary>
        public static int MeasureText(string text, int scale)
        {
            return text.Length * Font5x7.CellWidth * scale;
        }

        /// <summary>Draws text with its top-left at (x, y), each font pixel a scale x scale block; returns the x after the text.</summary>
        public int DrawText(int x, int y, string text, int scale, bool ink)
        {
            if (scale < 1)
            {
                scale = 1;
            }

            int penX = x;
            for (int i = 0; i < text.Length; i++)
            {
                DrawChar(penX, y, text[i], scale, ink);
                penX += Font5x7.CellWidth * scale;
            }

            return penX;
        }

        public int DrawText(int x, int y, string text)
        {
            return DrawText(x, y, text, 1, true);
        }

        public void DrawChar(int x, int y, char c, int scale, bool ink)
        {
            for (int col = 0; col < Font5x7.GlyphWidth; col++)
            {
                byte bits = Font5x7.GetColumn(c, col);
                for (int row = 0; row < Font5x7.GlyphHeight; row++)
                {
                    if ((bits & (1 << row)) != 0)
                    {
                        FillRect(x + (col * scale), y + (row * scale), scale, scale, ink);
                    }
                }
            }
        }
    }
}
