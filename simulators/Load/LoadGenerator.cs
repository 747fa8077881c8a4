using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using Campus.Mqtt;

namespace Campus.Simulators.Load;

/// <summary>Result of a load run.</summary>
public sealed record LoadResult(int Devices, int Connected, long Published, long Acknowledged, long Failed, TimeSpan Elapsed, double TargetPerSecond)
{
    public double MessagesPerSecond => Elapsed.TotalSeconds > 0 ? Acknowledged / Elapsed.TotalSeconds : 0;

    /// <summary>Achieved rate against the rate the devices were asked for (1.0 = kept up).</summary>
    public double RatioToTarget => TargetPerSecond > 0 ? MessagesPerSecond / TargetPerSecond : 0;
}

/// <summary>
/// N lightweight devices without chip models or firmware: each has its own MQTT connection and
/// publishes realistic energy telemetry (QoS 1, contract topics and payloads) every interval.
/// </summary>
public static class LoadGenerator
{
    public static async Task<LoadResult> RunAsync(
        string host, int port, int devices, TimeSpan interval, TimeSpan duration, int seed,
        Action<long, int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(devices, 1);
        var clients = new IMqttClient[devices];
        int connected = 0;
        using (var gate = new SemaphoreSlim(64))
        {
            await Task.WhenAll(Enumerable.Range(0, devices).Select(async i =>
            {
                await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    var client = new MqttClientFactory().CreateMqttClient();
                    await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(host, port).WithClientId(Id(i))
                        .WithMaximumInFlightMessages(8).WithKeepAlivePeriod(TimeSpan.FromSeconds(60)).Build(), cancellationToken).ConfigureAwait(false);
                    clients[i] = client;
                    Interlocked.Increment(ref connected);
                }
                finally
                {
                    gate.Release();
                }
            })).ConfigureAwait(false);
        }

        long published = 0, acknowledged = 0, failed = 0;
        var watch = Stopwatch.StartNew();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(duration);
        var runners = Enumerable.Range(0, devices).Select(i => Task.Run(async () =>
        {
            var random = new Random(seed * 7919 + i);
            string topic = $"campus/v1/load/r{i / 10:000}/energy/{Id(i)}/telemetry";
            double kwh = random.Next(100, 5000);
            uint seq = 0;
            // Spread the devices over the interval so they do not publish in bursts.
            var next = watch.Elapsed + interval * random.NextDouble();
            while (!stop.IsCancellationRequested)
            {
                var wait = next - watch.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    try
                    {
                        await Task.Delay(wait, stop.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }

                next += interval;
                double power = 800 + random.NextDouble() * 400;
                kwh += power * interval.TotalHours / 1000;
                byte[] buffer = ArrayPool<byte>.Shared.Rent(256);
                try
                {
                    int n = Write(buffer, ++seq, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), kwh, power);
                    Interlocked.Increment(ref published);
                    await clients[i].PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(buffer.AsMemory(0, n))
                        .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), CancellationToken.None).ConfigureAwait(false);
                    Interlocked.Increment(ref acknowledged);
                }
                catch (Campus.Mqtt.MqttCommunicationException)
                {
                    Interlocked.Increment(ref failed);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        })).ToArray();
        var reporter = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                progress?.Invoke(Interlocked.Read(ref acknowledged), Volatile.Read(ref connected));
                try
                {
                    await Task.Delay(500, stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        });
        await Task.WhenAll(runners).ConfigureAwait(false);
        var elapsed = watch.Elapsed;
        await reporter.ConfigureAwait(false);
        await Task.WhenAll(clients.Where(c => c is not null).Select(async c =>
        {
            try
            {
                await c.DisconnectAsync().ConfigureAwait(false);
            }
            catch (Campus.Mqtt.MqttCommunicationException)
            {
                // Gone already.
            }

            await c.DisposeAsync().ConfigureAwait(false);
        })).ConfigureAwait(false);
        return new LoadResult(devices, connected, published, acknowledged, failed, elapsed, devices / interval.TotalSeconds);
    }

    private static string Id(int i) => $"load-{i:00000}";

    /// <summary>Writes the telemetry document into <paramref name="buffer"/> without allocating; returns its length.</summary>
    internal static int Write(Span<byte> buffer, uint seq, long ts, double kwh, double power)
    {
        int at = 0;
        Append(buffer, ref at, "{\"v\":1,\"boot\":1,\"seq\":"u8);
        Utf8Formatter.TryFormat(seq, buffer[at..], out int w);
        at += w;
        Append(buffer, ref at, ",\"ts\":"u8);
        Utf8Formatter.TryFormat(ts, buffer[at..], out w);
        at += w;
        Append(buffer, ref at, ",\"energyKwh\":"u8);
        Utf8Formatter.TryFormat(Math.Round(kwh, 3), buffer[at..], out w, new StandardFormat('F', 3));
        at += w;
        Append(buffer, ref at, ",\"powerW\":"u8);
        Utf8Formatter.TryFormat(Math.Round(power, 1), buffer[at..], out w, new StandardFormat('F', 1));
        at += w;
        Append(buffer, ref at, ",\"voltageV\":229.8,\"powerFactor\":0.95}"u8);
        return at;
    }

    private static void Append(Span<byte> buffer, ref int at, ReadOnlySpan<byte> text)
    {
        text.CopyTo(buffer[at..]);
        at += text.Length;
    }
}
