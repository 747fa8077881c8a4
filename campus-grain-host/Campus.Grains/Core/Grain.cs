using Campus.Grains.Runtime;
using Campus.Grains.Timers;

namespace Campus.Grains;

/// <summary>
/// Base class of grains. One activation per key exists at a time; its methods run one request at a
/// time (see <see cref="ReentrantAttribute"/>), so grain code needs no locks.
/// </summary>
public abstract class Grain : IAddressable
{
    private readonly Activation _activation;

    protected Grain()
    {
        _activation = Activation.Constructing
            ?? throw new InvalidOperationException("Grains are created by the grain runtime; get a reference with IGrainFactory.GetGrain instead of calling the constructor.");
    }

    internal Activation Activation => _activation;

    /// <summary>This grain's identity.</summary>
    public GrainId GrainId => _activation.Id;

    /// <summary>"type/key", for logs.</summary>
    public string IdentityString => _activation.Id.ToString();

    /// <summary>Creates references to other grains (and observers).</summary>
    protected IGrainFactory GrainFactory => _activation.Runtime;

    /// <summary>The runtime's services.</summary>
    protected IServiceProvider ServiceProvider => _activation.Runtime.Services;

    /// <summary>Runs after construction and after persistent state was read, before the first call.</summary>
    public virtual Task OnActivateAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Runs before the activation goes away (idle, requested or shutdown). Timers are already stopped.</summary>
    public virtual Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Deactivate once the current request finishes; later calls go to a fresh activation.</summary>
    protected void DeactivateOnIdle() => _activation.DeactivateOnIdle();

    /// <summary>Keep this activation alive (not idle-collected) for at least <paramref name="timeSpan"/> from now.</summary>
    protected void DelayDeactivation(TimeSpan timeSpan) => _activation.DelayDeactivation(timeSpan);

    /// <summary>
    /// Starts a timer whose callback runs as a turn of this grain (never concurrently with a call).
    /// The next period starts when the callback finished. Not persisted; stops on deactivation.
    /// </summary>
    protected IGrainTimer RegisterGrainTimer<TState>(Func<TState, CancellationToken, Task> callback, TState state, GrainTimerCreationOptions options)
    {
        ArgumentNullException.ThrowIfNull(callback);
        return GrainTimer.Create(_activation, (s, ct) => callback((TState)s!, ct), state, options);
    }

    /// <inheritdoc cref="RegisterGrainTimer{TState}(Func{TState, CancellationToken, Task}, TState, GrainTimerCreationOptions)"/>
    protected IGrainTimer RegisterGrainTimer<TState>(Func<TState, CancellationToken, Task> callback, TState state, TimeSpan dueTime, TimeSpan period) =>
        RegisterGrainTimer(callback, state, new GrainTimerCreationOptions(dueTime, period));

    /// <inheritdoc cref="RegisterGrainTimer{TState}(Func{TState, CancellationToken, Task}, TState, GrainTimerCreationOptions)"/>
    protected IGrainTimer RegisterGrainTimer(Func<CancellationToken, Task> callback, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        return GrainTimer.Create(_activation, (_, ct) => callback(ct), null, new GrainTimerCreationOptions(dueTime, period));
    }

    /// <inheritdoc cref="RegisterGrainTimer{TState}(Func{TState, CancellationToken, Task}, TState, GrainTimerCreationOptions)"/>
    protected IGrainTimer RegisterGrainTimer(Func<CancellationToken, Task> callback, GrainTimerCreationOptions options)
    {
        ArgumentNullException.ThrowIfNull(callback);
        return GrainTimer.Create(_activation, (_, ct) => callback(ct), null, options);
    }
}
