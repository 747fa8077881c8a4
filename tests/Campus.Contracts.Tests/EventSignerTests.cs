using System.Security.Cryptography;
using System.Text;

namespace Campus.Contracts.Tests;

public sealed class EventSignerTests
{
    private const string Device = "s01-r101-door";
    private const string Body = """{"v":1,"boot":3,"seq":57,"ts":1764144000000,"type":"access","req":"a9","card":"04A1B2C3","result":"granted","reason":"ok","source":"controller"}""";

    // Key 00 01 02 ... 1F; MAC computed outside .NET (Python hmac/hashlib) over "s01-r101-door\n" + Body.
    private static readonly byte[] Key = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
    private const string KeyBase64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    private const string ExpectedSig = "442Qu9Sq2WaTZEzODmoDlBP/QLVnEZRi7yAmNV4svLQ=";

    private static byte[] U(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public void Signature_matches_the_fixed_test_vector_and_an_independent_hmac_over_the_documented_bytes()
    {
        var signed = EventSigner.Sign(Device, Key, U(Body));
        Assert.Equal(Body[..^1] + ",\"sig\":\"" + ExpectedSig + "\"}", Encoding.UTF8.GetString(signed));

        using var hmac = new HMACSHA256(Key);
        var independent = Convert.ToBase64String(hmac.ComputeHash(U(Device + "\n" + Body)));
        Assert.Equal(ExpectedSig, independent);
        Assert.Equal(Key, Convert.FromBase64String(KeyBase64));
    }

    [Fact]
    public void A_signed_event_verifies_and_still_reads_as_an_access_event()
    {
        var signed = EventSigner.Sign(Device, Key, U(Body));
        Assert.Equal(SignatureStatus.Valid, EventSigner.Verify(Device, Key, signed));
        var r = PayloadReader.ReadEvent(signed, DeviceKind.Door);
        Assert.True(r.IsValid, r.Message);
        Assert.Equal(ExpectedSig, r.Value.Sig);
        Assert.Equal(U(Body), EventSigner.StripSignature(signed));
    }

    [Fact]
    public void Written_event_records_sign_and_verify()
    {
        var evt = new AccessRequestEvent { Boot = 9, Seq = 1, Ts = 5, Req = "r1", Card = "04A1B2C3" };
        var signed = EventSigner.Sign(Device, Key, PayloadWriter.Write(evt));
        Assert.Equal(SignatureStatus.Valid, EventSigner.Verify(Device, Key, signed));
    }

    [Fact]
    public void Any_single_byte_change_to_the_body_fails_verification()
    {
        var signed = EventSigner.Sign(Device, Key, U(Body));
        var bodyLength = Body.Length - 1; // everything before the appended sig member
        for (var i = 0; i < bodyLength; i++)
        {
            var copy = (byte[])signed.Clone();
            copy[i] ^= 0x01;
            var status = EventSigner.Verify(Device, Key, copy);
            Assert.True(status is SignatureStatus.BadSignature or SignatureStatus.Malformed, $"byte {i} ('{(char)signed[i]}') changed and verification said {status}");
        }
    }

    [Fact]
    public void Any_single_byte_change_to_the_signature_or_the_device_id_fails_verification()
    {
        var signed = EventSigner.Sign(Device, Key, U(Body));
        for (var i = Body.Length - 1; i < signed.Length; i++)
        {
            var copy = (byte[])signed.Clone();
            copy[i] ^= 0x01;
            Assert.NotEqual(SignatureStatus.Valid, EventSigner.Verify(Device, Key, copy));
        }
        for (var i = 0; i < Device.Length; i++)
        {
            var chars = Device.ToCharArray();
            chars[i] = chars[i] == '1' ? '2' : '1';
            Assert.Equal(SignatureStatus.BadSignature, EventSigner.Verify(new string(chars), Key, signed));
        }
        var otherKey = (byte[])Key.Clone();
        otherKey[31] ^= 0x80;
        Assert.Equal(SignatureStatus.BadSignature, EventSigner.Verify(Device, otherKey, signed));
    }

    [Theory]
    [InlineData(Body, SignatureStatus.MissingSignature)]
    [InlineData("""{"v":1,"sig":"442Qu9Sq2WaTZEzODmoDlBP/QLVnEZRi7yAmNV4svLQ=","seq":1}""", SignatureStatus.Malformed)]
    [InlineData("""{"v":1, "sig":"442Qu9Sq2WaTZEzODmoDlBP/QLVnEZRi7yAmNV4svLQ="}""", SignatureStatus.Malformed)]
    [InlineData("""{"v":1,"sig":"442Qu9Sq2WaTZEzODmoDlBP/QLVnEZRi7yAmNV4svLQ="} """, SignatureStatus.Malformed)]
    [InlineData("""{"v":1,"sig":"q0...="}""", SignatureStatus.Malformed)]
    [InlineData("""{"v":1,"sig":"AAAA"}""", SignatureStatus.Malformed)]
    [InlineData("""{,"sig":"442Qu9Sq2WaTZEzODmoDlBP/QLVnEZRi7yAmNV4svLQ="}""", SignatureStatus.Malformed)]
    [InlineData("""[,"sig":"442Qu9Sq2WaTZEzODmoDlBP/QLVnEZRi7yAmNV4svLQ="}""", SignatureStatus.Malformed)]
    [InlineData("", SignatureStatus.MissingSignature)]
    [InlineData("""{"v":1,"sig":"442Qu9Sq2WaTZEzODmoDlBP/QLVnEZRi7yAmNV4svLQ="}""", SignatureStatus.BadSignature)]
    public void Documents_without_a_well_placed_signature_are_reported_as_such(string payload, SignatureStatus expected)
    {
        Assert.Equal(expected, EventSigner.Verify(Device, Key, U(payload)));
    }

    [Fact]
    public void The_documented_example_with_a_placeholder_signature_is_malformed()
    {
        Assert.Equal(SignatureStatus.Malformed, EventSigner.Verify(Device, Key, U(DocExamples.SignedAccess)));
    }

    [Fact]
    public void Every_prefix_of_a_signed_event_fails_without_throwing()
    {
        var signed = EventSigner.Sign(Device, Key, U(Body));
        for (var n = 0; n < signed.Length; n++)
        {
            Assert.NotEqual(SignatureStatus.Valid, EventSigner.Verify(Device, Key, signed.AsSpan(0, n)));
        }
    }

    [Fact]
    public void Signing_refuses_documents_it_cannot_sign_correctly()
    {
        Assert.Throws<ArgumentException>(() => EventSigner.Sign(Device, Key, "{}"u8));
        Assert.Throws<ArgumentException>(() => EventSigner.Sign(Device, Key, "{\"v\":1} "u8));
        Assert.Throws<ArgumentException>(() => EventSigner.Sign(Device, Key, EventSigner.Sign(Device, Key, U(Body))));
        Assert.Throws<ArgumentException>(() => EventSigner.Sign("Door 1", Key, U(Body)));
        Assert.Throws<ArgumentException>(() => EventSigner.Sign(Device, [], U(Body)));
    }

    [Fact]
    public void Generated_keys_are_32_random_bytes_in_base64()
    {
        var a = DeviceKeys.Generate();
        var b = DeviceKeys.Generate();
        Assert.NotEqual(a, b);
        Assert.True(DeviceKeys.TryDecode(a, out var key));
        Assert.Equal(32, key.Length);
        Assert.True(DeviceKeys.TryDecode(KeyBase64, out var fixedKey));
        Assert.Equal(Key, fixedKey);
        Assert.False(DeviceKeys.TryDecode("AAEC", out _));
        Assert.False(DeviceKeys.TryDecode("not base64!", out _));
        Assert.False(DeviceKeys.TryDecode(null, out _));
    }
}
