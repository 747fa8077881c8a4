using Campus.Firmware.Drivers;
using Campus.Firmware.Ports;
using Campus.Simulators.Chips;

namespace Campus.Firmware.Tests.Drivers;

public sealed class Mfrc522Tests
{
    private readonly SimulatedClock _clock = TestRig.Clock();
    private readonly Mfrc522Model _chip = new(TestRig.Spi(5));
    private readonly Mfrc522 _reader;

    public Mfrc522Tests()
    {
        var gpio = GpioModel.Esp32(_clock);
        _reader = new Mfrc522(_chip, _clock, gpio, 22);
        _reader.Initialize();
    }

    [Fact]
    public void Initialize_reads_the_version_and_switches_the_antenna_on()
    {
        Assert.Equal(0x92, _reader.Version);
        Assert.True(_chip.IsAntennaOn);
        Assert.True(_reader.IsAntennaOn);
    }

    [Fact]
    public void Initialize_rejects_a_chip_with_an_unknown_version()
    {
        var odd = new Mfrc522Model(TestRig.Spi(5), version: 0x12);
        var reader = new Mfrc522(odd, _clock, null, -1);
        var error = Assert.Throws<DriverException>(reader.Initialize);
        Assert.Equal(DriverError.NoDevice, error.Error);
        Assert.Contains("0x12", error.Message);
    }

    [Fact]
    public void Reads_a_four_byte_uid_with_single_size_atqa_and_classic_sak()
    {
        _chip.PlaceCard(TestRig.Bytes("04A1B2C3"));

        Assert.True(_reader.TryReadCardUid(out var uid));
        Assert.Equal("04A1B2C3", TestRig.Hex(uid));
        Assert.Equal("0400", TestRig.Hex(_reader.LastAtqa));
        Assert.Equal(0x08, _reader.LastSak);
        Assert.Equal(1, _chip.HaltCount);
    }

    [Fact]
    public void Reads_a_seven_byte_uid_through_two_cascade_levels()
    {
        _chip.PlaceCard(TestRig.Bytes("04112233445566"));

        Assert.True(_reader.TryReadCardUid(out var uid));
        Assert.Equal("04112233445566", TestRig.Hex(uid));
        Assert.Equal("4400", TestRig.Hex(_reader.LastAtqa));
        Assert.Equal(0x00, _reader.LastSak);
    }

    [Fact]
    public void Reads_a_ten_byte_uid_through_three_cascade_levels()
    {
        _chip.PlaceCard(TestRig.Bytes("0102030405060708090A"));

        Assert.True(_reader.TryReadCardUid(out var uid));
        Assert.Equal("0102030405060708090A", TestRig.Hex(uid));
    }

    [Fact]
    public void No_card_in_the_field_reads_nothing()
    {
        Assert.False(_reader.TryReadCardUid(out var uid));
        Assert.Empty(uid);
        Assert.True(_chip.TransceiveCount > 0);
    }

    [Fact]
    public void A_card_is_reported_once_while_it_stays_and_again_after_it_was_removed_and_returned()
    {
        var card = TestRig.Bytes("DEADBEEF");
        _chip.PlaceCard(card);
        Assert.True(_reader.TryReadCardUid(out _));
        Assert.False(_reader.TryReadCardUid(out _));   // halted: REQA does not wake it

        _chip.RemoveCard();
        Assert.False(_reader.TryReadCardUid(out _));

        _chip.PlaceCard(card);
        Assert.True(_reader.TryReadCardUid(out var again));
        Assert.Equal("DEADBEEF", TestRig.Hex(again));
    }

    [Fact]
    public void Wake_up_reads_a_halted_card_that_is_still_on_the_reader()
    {
        _chip.PlaceCard(TestRig.Bytes("0A0B0C0D"));
        Assert.True(_reader.TryReadCardUid(out _));

        Assert.True(_reader.TryReadCardUid(wakeUp: true, out var uid));
        Assert.Equal("0A0B0C0D", TestRig.Hex(uid));
    }

    [Fact]
    public void With_the_antenna_off_no_card_answers()
    {
        _chip.PlaceCard(TestRig.Bytes("04A1B2C3"));
        _reader.AntennaOff();

        Assert.False(_reader.TryReadCardUid(out _));

        _reader.AntennaOn();
        Assert.True(_reader.TryReadCardUid(out _));
    }

    [Theory]
    [InlineData("9320")]
    [InlineData("5000")]
    [InlineData("010203040506070809")]
    public void Crc_coprocessor_matches_the_iso14443_crc_a(string hex)
    {
        var data = TestRig.Bytes(hex);
        var fromChip = _reader.CalculateCrc(data, 0, data.Length);
        ushort expected = Checksums.CrcA(data, 0, data.Length);
        Assert.Equal((byte)expected, fromChip[0]);
        Assert.Equal((byte)(expected >> 8), fromChip[1]);
    }

    [Fact]
    public void Crc_a_of_a_known_vector_is_correct()
    {
        // HLTA "50 00" is sent with CRC_A bytes 57 CD (ISO/IEC 14443-3).
        ushort crc = Checksums.CrcA(new byte[] { 0x50, 0x00 }, 0, 2);
        Assert.Equal(0x57, crc & 0xFF);
        Assert.Equal(0xCD, crc >> 8);
    }

    [Fact]
    public void Two_cards_answering_differently_collide_and_read_as_no_card()
    {
        _chip.PlaceCard(TestRig.Bytes("04A1B2C3"));
        _chip.PlaceAnotherCard(TestRig.Bytes("08D1E2F3"));

        Assert.False(_reader.TryReadCardUid(out var uid));
        Assert.Empty(uid);
        Assert.NotEqual(0, _reader.ReadRegister(Mfrc522Registers.Error) & Mfrc522Commands.CollisionErr);

        _chip.RemoveCard();
        _chip.PlaceCard(TestRig.Bytes("08D1E2F3"));
        Assert.True(_reader.TryReadCardUid(out uid));
        Assert.Equal("08D1E2F3", TestRig.Hex(uid));
    }

    [Fact]
    public void Model_rejects_a_uid_of_the_wrong_length()
    {
        Assert.Throws<ArgumentException>(() => _chip.PlaceCard(new byte[5]));
    }
}
