using System.Buffers;

namespace Campus.Mqtt.Tests.Codec;

/// <summary>Builds ReadOnlySequence values split into many segments, as a socket may deliver them.</summary>
internal static class Segments
{
    public static ReadOnlySequence<byte> Split(byte[] bytes, int segmentSize)
    {
        if (bytes.Length == 0) return ReadOnlySequence<byte>.Empty;
        var sizes = new List<int>();
        for (var i = 0; i < bytes.Length; i += segmentSize) sizes.Add(Math.Min(segmentSize, bytes.Length - i));
        return Build(bytes, sizes);
    }

    public static ReadOnlySequence<byte> SplitRandomly(byte[] bytes, Random random)
    {
        if (bytes.Length == 0) return ReadOnlySequence<byte>.Empty;
        var sizes = new List<int>();
        for (var i = 0; i < bytes.Length;)
        {
            var size = Math.Min(random.Next(1, 8), bytes.Length - i);
            sizes.Add(size);
            i += size;
        }
        return Build(bytes, sizes);
    }

    private static ReadOnlySequence<byte> Build(byte[] bytes, List<int> sizes)
    {
        Segment? first = null, last = null;
        var offset = 0;
        foreach (var size in sizes)
        {
            // Each segment gets its own array, with junk around it, so that nothing relies on contiguity.
            var array = new byte[size + 2];
            array[0] = 0xEE;
            array[^1] = 0xEE;
            Array.Copy(bytes, offset, array, 1, size);
            var memory = new ReadOnlyMemory<byte>(array, 1, size);
            offset += size;
            if (first is null) first = last = new Segment(memory, 0);
            else last = last!.Append(memory);
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
