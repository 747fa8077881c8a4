using System.Buffers.Binary;
using System.IO.Compression;
using Campus.Firmware.Drivers;
using Campus.Simulators.Chips;
using Campus.Testing;

namespace Campus.Firmware.Tests.Drivers;

public sealed class EpaperTests : IDisposable
{
    private const int Dc = 17, Reset = 16, Busy = 4;
    private readonly SimulatedClock _clock = TestRig.Clock();
    private readonly GpioModel _gpio;
    private readonly EpaperModel _panel;
    private readonly Ssd1680 _display;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "campus-epaper-" + Guid.NewGuid().ToString("N"));

    public EpaperTests()
    {
        _gpio = GpioModel.Esp32(_clock);
        _panel = new EpaperModel(TestRig.Spi(5), _gpio, _clock, Dc, Reset, Busy);
        _display = new Ssd1680(_panel, _gpio, _clock, Dc, Reset, Busy);
        _display.Initialize();
    }

    public void Dispose() => TempDirectory.Delete(_dir);

    [Fact]
    public void Rendered_text_appears_on_the_panel_glyph_for_glyph()
    {
        const string text = "Physics 8B 10:00-10:45 ~{}";
        var frame = Ssd1680.CreateFrameBuffer();
        frame.DrawText(3, 5, text);

        _display.Display(frame);

        Assert.Equal(1, _panel.RefreshCount);
        for (int i = 0; i < text.Length; i++)
        {
            for (int gy = 0; gy < Font5x7.CellHeight; gy++)
            {
                for (int gx = 0; gx < Font5x7.CellWidth; gx++)
                {
                    bool expected = Font5x7.IsInked(text[i], gx, gy);
                    bool actual = _panel.GetPixel(3 + (i * Font5x7.CellWidth) + gx, 5 + gy);
                    Assert.True(expected == actual, $"'{text[i]}' pixel ({gx},{gy}): expected {(expected ? "black" : "white")}");
                }
            }
        }
    }

    [Fact]
    public void Scaled_text_and_rectangles_land_where_they_were_drawn()
    {
        var frame = Ssd1680.CreateFrameBuffer();
        frame.FillRect(0, 100, 296, 28, ink: true);
        frame.DrawText(10, 104, "R101", 2, ink: false);
        _display.Display(frame);

        Assert.True(_panel.GetPixel(0, 100));
        Assert.True(_panel.GetPixel(295, 127));
        Assert.False(_panel.GetPixel(0, 99));
        // 'R' column 0 is inked from the top: white-on-black at scale 2 covers a 2x2 block.
        Assert.False(_panel.GetPixel(10, 104));
        Assert.False(_panel.GetPixel(11, 105));
        Assert.True(_panel.GetPixel(9, 104));
    }

    [Fact]
    public void Every_printable_glyph_has_ink_and_space_has_none()
    {
        for (char c = '!'; c <= '~'; c++)
        {
            int ink = 0;
            for (int x = 0; x < 5; x++)
            {
                for (int y = 0; y < 7; y++)
                {
                    ink += Font5x7.IsInked(c, x, y) ? 1 : 0;
                }
            }

            Assert.True(ink > 0, $"glyph '{c}' is empty");
        }

        Assert.False(Font5x7.IsInked(' ', 2, 3));
        Assert.Equal(Font5x7.GetColumn('?', 1), Font5x7.GetColumn('\u00e9', 1));   // outside ASCII draws '?'
    }

    [Fact]
    public void Glyphs_are_distinct()
    {
        var seen = new Dictionary<string, char>();
        for (char c = ' '; c <= '~'; c++)
        {
            string key = string.Concat(Enumerable.Range(0, 5).Select(i => Font5x7.GetColumn(c, i).ToString("X2")));
            Assert.False(seen.TryGetValue(key, out var other), $"'{c}' looks the same as '{other}'");
            seen[key] = c;
        }
    }

    [Fact]
    public void Nothing_is_visible_before_a_refresh()
    {
        var frame = Ssd1680.CreateFrameBuffer();
        frame.Fill(true);
        Assert.Equal(0, _panel.CountBlackPixels());

        _display.Display(frame);
        Assert.Equal(296 * 128, _panel.CountBlackPixels());
    }

    [Fact]
    public void Refresh_waits_for_busy_on_the_clock()
    {
        long before = _clock.TickCountMs;
        _display.Display(Ssd1680.CreateFrameBuffer());
        Assert.True(_clock.TickCountMs - before >= _panel.RefreshMs, "the driver must wait for BUSY to fall");
    }

    [Fact]
    public void A_panel_that_stays_busy_times_out()
    {
        _panel.RefreshMs = 60_000;
        _display.BusyTimeoutMs = 5_000;
        var error = Assert.Throws<DriverException>(() => _display.Display(Ssd1680.CreateFrameBuffer()));
        Assert.Equal(DriverError.Timeout, error.Error);
    }

    [Fact]
    public void Deep_sleep_ignores_commands_until_a_hardware_reset()
    {
        _display.DeepSleep();
        Assert.True(_panel.IsInDeepSleep);

        _display.Initialize();   // toggles RESET
        Assert.False(_panel.IsInDeepSleep);
        var frame = Ssd1680.CreateFrameBuffer();
        frame.FillRect(0, 0, 8, 8, true);
        _display.Display(frame);
        Assert.True(_panel.GetPixel(7, 7));
    }

    [Fact]
    public void Png_is_written_with_signature_header_and_the_frame_pixels()
    {
        var frame = Ssd1680.CreateFrameBuffer();
        frame.DrawText(0, 0, "Li Wei");
        frame.FillRect(200, 60, 20, 10, true);
        _display.Display(frame);
        Directory.CreateDirectory(_dir);
        string path = Path.Combine(_dir, "sign.png");

        _panel.SaveAsPng(path);

        var png = File.ReadAllBytes(path);
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        Assert.Equal(13u, BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(8)));
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        Assert.Equal(296u, BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(128u, BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(20)));
        Assert.Equal(1, png[24]);   // bit depth
        Assert.Equal(0, png[25]);   // grayscale
        Assert.Equal(PngWriter.Crc32(png.AsSpan(12, 17)), BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(29)));

        var pixels = DecodeRows(png, 296, 128);
        for (int y = 0; y < 128; y++)
        {
            for (int x = 0; x < 296; x++)
            {
                bool white = (pixels[y][x >> 3] & (0x80 >> (x & 7))) != 0;
                Assert.True(white == !_panel.GetPixel(x, y), $"PNG pixel ({x},{y}) differs from the panel");
            }
        }
    }

    private static byte[][] DecodeRows(byte[] png, int width, int height)
    {
        int at = 8;
        using var idat = new MemoryStream();
        while (at < png.Length)
        {
            int length = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(at));
            string type = System.Text.Encoding.ASCII.GetString(png, at + 4, 4);
            Assert.Equal(PngWriter.Crc32(png.AsSpan(at + 4, length + 4)), BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(at + 8 + length)));
            if (type == "IDAT")
            {
                idat.Write(png, at + 8, length);
            }

            at += 12 + length;
        }

        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        using var raw = new MemoryStream();
        z.CopyTo(raw);
        var bytes = raw.ToArray();
        int stride = (width + 7) / 8;
        Assert.Equal((stride + 1) * height, bytes.Length);
        var rows = new byte[height][];
        for (int y = 0; y < height; y++)
        {
            Assert.Equal(0, bytes[y * (stride + 1)]);
            rows[y] = bytes.AsSpan((y * (stride + 1)) + 1, stride).ToArray();
        }

        return rows;
    }
}
