using System.Security.Cryptography;
using System.Text;
using Campus.Contracts;
using FirmwareSigner = Campus.Firmware.Common.EventSigner;

namespace Campus.Firmware.Tests.Apps;

/// <summary>The firmware's signer against the contract's test vector and the .NET side's verifier.</summary>
public sealed class SignerVectorTests
{
    private const string Device = "s01-r101-door";

    // The access event of docs/contracts.md without its sig member.
    private const string AccessBody =
        "{\"v\":1,\"boot\":3,\"seq\":57,\"ts\":1764144000000,\"type\":\"access\",\"req\":\"a9\",\"card\":\"04A1B2C3\",\"result\":\"granted\",\"reason\":\"ok\",\"source\":\"controller\"}";

    private const string ExpectedSig = "442Qu9Sq2WaTZEzODmoDlBP/QLVnEZRi7yAmNV4svLQ=";

    private static byte[] VectorKey() => Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();

    [Fact]
    public void Contract_test_vector_is_the_platform_hmac_of_device_newline_body()
    {
        var mac = HMACSHA256.HashData(VectorKey(), Encoding.UTF8.GetBytes(Device + "\n" + AccessBody));
        Assert.Equal(ExpectedSig, Convert.ToBase64String(mac));
    }

    [Fact]
    public void Firmware_signer_produces_the_contract_test_vector_and_the_same_document_as_the_contracts_signer()
    {
        var signed = new FirmwareSigner(Device, VectorKey()).Sign(AccessBody);

        Assert.Equal(AccessBody[..^1] + ",\"sig\":\"" + ExpectedSig + "\"}", signed);
        Assert.Equal(ExpectedSig, new FirmwareSigner(Device, VectorKey()).Signature(AccessBody));
        Assert.Equal(signed, Encoding.UTF8.GetString(EventSigner.Sign(Device, VectorKey(), Encoding.UTF8.GetBytes(AccessBody))));
    }

    [Fact]
    public void Firmware_signed_event_verifies_with_the_contracts_signer_and_an_altered_one_does_not()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var signed = new FirmwareSigner(Device, key).Sign(AccessBody.Replace("\"seq\":57", "\"seq\":58", StringComparison.Ordinal));

        Assert.Equal(SignatureStatus.Valid, EventSigner.Verify(Device, key, Encoding.UTF8.GetBytes(signed)));
        var altered = signed.Replace("granted", "denied!", StringComparison.Ordinal);
        Assert.Equal(SignatureStatus.BadSignature, EventSigner.Verify(Device, key, Encoding.UTF8.GetBytes(altered)));
        Assert.Equal(SignatureStatus.BadSignature, EventSigner.Verify("s01-r102-door", key, Encoding.UTF8.GetBytes(signed)));
    }
}
