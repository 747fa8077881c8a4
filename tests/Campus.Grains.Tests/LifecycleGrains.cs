using System.Collections.Concurrent;

namespace Campus.Grains.Tests;

public interface ITimerGrain : IGrainWithStringKey
{
    Task StartTimer(TimeSpan due, TimeSpan period);
    Task Work();
    Task<(int Ticks, int Overlaps)> Stats();
    Task Deactivate();
}

public sealed class TimerGrain(Probe probe) : Grain, ITimerGrain
{
    private bool _inCall;
    private int _ticks;
    private int _overlaps;

    public Task StartTimer(TimeSpan due, TimeSpan period)
    {
        RegisterGrainTimer(static (self, _) => self.OnTick(), this, due, period);
        return Task.CompletedTask;
    }

    private async Task OnTick()
    {
        if (_inCall) _overlaps++;
        _ticks++;
        probe.Log(this.GetPrimaryKeyString(), "tick");
        await Task.Yield();
        if (_inCall) _overlaps++;
    }

    public async Task Work()
    {
        _inCall = true;
        await Task.Delay(2);
        await Task.Yield();
        _inCall = false;
    }

    public Task<(int Ticks, int Overlaps)> Stats() => Task.FromResult((_ticks, _overlaps));

    public Task Deactivate()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        probe.Deactivations.AddOrUpdate(this.GetPrimaryKeyString(), 1, (_, n) => n + 1);
        return Task.CompletedTask;
    }
}

public interface IAlarmGrain : IGrainWithStringKey
{
    Task Arm(string name, TimeSpan due, TimeSpan period);
    Task Disarm(string name);
    Task<bool> HasReminder(string name);
    Task Sleep();
}

public sealed class AlarmGrain(Probe probe) : Grain, IAlarmGrain, IRemindable
{
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        probe.Activations.AddOrUpdate(this.GetPrimaryKeyString(), 1, (_, n) => n + 1);
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        probe.Deactivations.AddOrUpdate(this.GetPrimaryKeyString(), 1, (_, n) => n + 1);
        return Task.CompletedTask;
    }

    public Task Arm(string name, TimeSpan due, TimeSpan period) => this.RegisterOrUpdateReminder(name, due, period);

    public async Task Disarm(string name)
    {
        var reminder = await this.GetReminder(name) ?? throw new InvalidOperationException("no reminder " + name);
        await this.UnregisterReminder(reminder);
    }

    public async Task<bool> HasReminder(string name) => await this.GetReminder(name) is not null;

    public Task Sleep()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        probe.Log(this.GetPrimaryKeyString(), $"{reminderName}@{status.CurrentTickTime:HH:mm:ss}");
        return Task.CompletedTask;
    }
}

public interface IThermometerObserver : IGrainObserver
{
    Task TemperatureChanged(string room, double celsius);
}

public interface IThermometerGrain : IGrainWithStringKey
{
    Task Subscribe(IThermometerObserver observer);
    Task Unsubscribe(IThermometerObserver observer);
    Task Report(double celsius);
    Task<int> SubscriberCount();
}

public sealed class ThermometerGrain(TimeProvider time) : Grain, IThermometerGrain
{
    private readonly ObserverManager<IThermometerObserver> _observers = new(TimeSpan.FromMinutes(5), time);

    public Task Subscribe(IThermometerObserver observer)
    {
        _observers.Subscribe(observer, observer);
        return Task.CompletedTask;
    }

    public Task Unsubscribe(IThermometerObserver observer)
    {
        _observers.Unsubscribe(observer);
        return Task.CompletedTask;
    }

    public Task Report(double celsius) =>
        _observers.NotifyAsync(o => o.TemperatureChanged(this.GetPrimaryKeyString(), celsius));

    public Task<int> SubscriberCount()
    {
        _observers.ClearExpired();
        return Task.FromResult(_observers.Count);
    }
}

public sealed class RecordingObserver : IThermometerObserver
{
    public ConcurrentQueue<(string Room, double Celsius)> Seen { get; } = new();

    public Task TemperatureChanged(string room, double celsius)
    {
        Seen.Enqueue((room, celsius));
        return Task.CompletedTask;
    }
}

public interface ISleepyGrain : IGrainWithStringKey
{
    Task<int> ActivationNumber();
    Task SleepAfter(TimeSpan delay);
    Task KeepAwake(TimeSpan span);
}

public sealed class SleepyGrain(Probe probe) : Grain, ISleepyGrain
{
    private int _number;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _number = probe.Activations.AddOrUpdate(this.GetPrimaryKeyString(), 1, (_, n) => n + 1);
        return Task.CompletedTask;
    }

    public Task<int> ActivationNumber() => Task.FromResult(_number);

    public async Task SleepAfter(TimeSpan delay)
    {
        DeactivateOnIdle();
        await Task.Delay(delay);
    }

    public Task KeepAwake(TimeSpan span)
    {
        DelayDeactivation(span);
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        probe.Deactivations.AddOrUpdate(this.GetPrimaryKeyString(), 1, (_, n) => n + 1);
        return Task.CompletedTask;
    }
}

public interface IBulkyGrain : IGrainWithStringKey
{
    Task<int> ActivationNumber();
}

/// <summary>A grain with a large state and a timer, whose instances the probe watches weakly.</summary>
[CollectionAgeLimit(Minutes = 2)]
public sealed class BulkyGrain(Probe probe) : Grain, IBulkyGrain
{
    private readonly byte[] _state = new byte[1 << 20];

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = this.GetPrimaryKeyString();
        _state[0] = (byte)probe.Activations.AddOrUpdate(key, 1, (_, n) => n + 1);
        probe.Track(key, this);
        // The timer's callback holds the grain; it never fires in the test, and it must not keep the grain alive.
        RegisterGrainTimer(static (self, _) => self.OnTick(), this, TimeSpan.FromDays(1), TimeSpan.FromDays(1));
        return Task.CompletedTask;
    }

    private Task OnTick()
    {
        probe.Log(this.GetPrimaryKeyString(), "tick");
        return Task.CompletedTask;
    }

    public Task<int> ActivationNumber() => Task.FromResult((int)_state[0]);

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        probe.Deactivations.AddOrUpdate(this.GetPrimaryKeyString(), 1, (_, n) => n + 1);
        return Task.CompletedTask;
    }
}
