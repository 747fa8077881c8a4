using System.Buffers;
using Campus.Mqtt.Protocol;
using Campus.Mqtt.Protocol.V311;

namespace Campus.Mqtt.Tests.Codec;

/// <summary>
/// Seeded random and mutated byte streams: the decoder either reads packets, says "incomplete",
/// or throws <see cref="MqttProtocolException"/>. Anything else is a bug; the failure names the
/// seed that reproduces it.
/// </summary>
public sealed class FuzzTests
{
    private const int BaseSeed = 20_261_126;
    private const int Streams = 100_000;

    [Fact]
    public async Task Random_and_mutated_streams_never_crash_or_hang_the_decoder()
    {
        var currentSeed = BaseSeed;
        var run = Task.Run(() => Run(seed => Volatile.Write(ref currentSeed, seed)));
        var finished = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(120)));
        Assert.True(finished == run, $"seed {Volatile.Read(ref currentSeed)}: the decoder did not finish (hang?)");
        await run;
    }

    private static void Run(Action<int> reportSeed)
    {
        var samples = new List<byte[]>();
        foreach (var (name, packet) in SamplePackets.All())
        {
            if (name != "PUBLISH large payload") samples.Add(Codec.Encode(packet));
        }

        var accepted = 0;
        var rejected = 0;
        for (var i = 0; i < Streams; i++)
        {
            var seed = BaseSeed + i;
            reportSeed(seed);
            var random = new Random(seed);
            var bytes = MakeStream(random, samples);
            var input = random.Next(4) == 0 ? Segments.SplitRandomly(bytes, random) : new ReadOnlySequence<byte>(bytes);
            var maximumPacketSize = random.Next(3) == 0 ? random.Next(2, 64) : Codec.Unlimited;
            try
            {
                accepted += DecodeAll(input, maximumPacketSize, seed);
            }
            catch (MqttProtocolException)
            {
                rejected++;
            }
            catch (Exception e)
            {
                Assert.Fail($"seed {seed}: the decoder threw {e.GetType().Name} instead of MqttProtocolException for {Convert.ToHexString(bytes)}: {e}");
            }
        }
        // Make sure the generator exercised both outcomes, so the test can fail when either path breaks.
        Assert.True(accepted > Streams / 10, $"only {accepted} packets were accepted (base seed {BaseSeed})");
        Assert.True(rejected > Streams / 10, $"only {rejected} streams were rejected (base seed {BaseSeed})");
    }

    [Fact]
    public void Every_single_byte_corruption_of_every_packet_is_read_incomplete_or_rejected_cleanly()
    {
        var outcomes = new int[3];
        foreach (var (name, packet) in SamplePackets.All())
        {
            if (name == "PUBLISH large payload") continue;
            var original = Codec.Encode(packet);
            for (var position = 0; position < original.Length; position++)
            {
                for (var value = 0; value < 256; value++)
                {
                    if (original[position] == value) continue;
                    var corrupted = (byte[])original.Clone();
                    corrupted[position] = (byte)value;
                    try
                    {
                        outcomes[DecodeAll(new ReadOnlySequence<byte>(corrupted), Codec.Unlimited, seed: -1) > 0 ? 0 : 1]++;
                    }
                    catch (MqttProtocolException)
                    {
                        outcomes[2]++;
                    }
                    catch (Exception e)
                    {
                        Assert.Fail($"{name} with byte {position} set to 0x{value:X2}: {e.GetType().Name}: {e.Message}");
                    }
                }
            }
        }
        Assert.All(outcomes, count => Assert.True(count > 0, $"outcomes (read, incomplete, rejected): {string.Join(", ", outcomes)}"));
    }

    private static int DecodeAll(ReadOnlySequence<byte> input, int maximumPacketSize, int seed)
    {
        var reader = new SequenceReader<byte>(input);
        var count = 0;
        while (true)
        {
            var before = reader.Consumed;
            if (!MqttV311Decoder.TryRead(ref reader, maximumPacketSize, out var packet))
            {
                Assert.True(reader.Consumed == before, $"seed {seed}: an incomplete read consumed bytes");
                return count;
            }
            Assert.True(reader.Consumed > before, $"seed {seed}: a successful read consumed nothing (the caller would loop forever)");
            // Whatever the decoder accepts, the encoder writes back byte for byte.
            var original = input.Slice(before, reader.Consumed - before).ToArray();
            var again = Codec.Encode(packet);
            Assert.True(original.AsSpan().SequenceEqual(again),
                $"seed {seed}: {packet.Type} decoded from {Convert.ToHexString(original)} re-encodes as {Convert.ToHexString(again)}");
            count++;
        }
    }

    private static byte[] MakeStream(Random random, List<byte[]> samples)
    {
        var kind = random.Next(10);
        if (kind == 0)
        {
            var noise = new byte[random.Next(0, 40)];
            random.NextBytes(noise);
            return noise;
        }
        var stream = new List<byte>();
        var packets = random.Next(1, 4);
        for (var p = 0; p < packets; p++) stream.AddRange(samples[random.Next(samples.Count)]);
        var mutations = kind == 1 ? 0 : random.Next(1, 4);
        for (var m = 0; m < mutations && stream.Count > 0; m++)
        {
            var at = random.Next(stream.Count);
            switch (random.Next(6))
            {
                case 0: stream[at] ^= (byte)(1 << random.Next(8)); break;
                case 1: stream[at] = (byte)random.Next(256); break;
                case 2: stream.Insert(at, (byte)random.Next(256)); break;
                case 3: stream.RemoveAt(at); break;
                case 4: stream.RemoveRange(at, stream.Count - at); break;
                default: stream[at] = random.Next(2) == 0 ? (byte)0xFF : (byte)0x00; break;
            }
        }
        return stream.ToArray();
    }
}
