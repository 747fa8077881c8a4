using System.Security.Claims;
using Campus.Controller.Grains;
using Campus.Dashboard.Api;
using Campus.Dashboard.Live;
using Campus.Dashboard.Security;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;

namespace Campus.Dashboard.Components.Shared;

/// <summary>
/// Base of the school pages: resolves the school from <c>?school=</c> (or the user's own), checks it
/// through <see cref="SchoolScope"/> (another school's page shows "not found"), and once the page
/// is interactive follows the school live: grain observer -> <see cref="LiveHub"/> -> re-render.
/// </summary>
public abstract class CampusPage : ComponentBase, IAsyncDisposable
{
    private IAsyncDisposable? _live;
    private string? _liveSchool;
    private int _refreshQueued;

    [Inject] internal CampusData Data { get; set; } = default!;
    [Inject] internal LiveHub Hub { get; set; } = default!;
    [CascadingParameter] private Task<AuthenticationState>? AuthState { get; set; }
    [SupplyParameterFromQuery(Name = "school")] public string? SchoolParameter { get; set; }

    protected ClaimsPrincipal User { get; private set; } = new();
    protected SchoolSpec? School { get; private set; }
    protected bool NotFound { get; private set; }
    protected IReadOnlyList<SchoolSpec> VisibleSchools { get; private set; } = [];

    protected string UserName => User.Name();

    /// <summary>True once the page follows its school live (interactive and subscribed).</summary>
    protected bool IsLive { get; private set; }

    protected override async Task OnParametersSetAsync()
    {
        User = AuthState is null ? new ClaimsPrincipal() : (await AuthState).User;
        var requested = SchoolParameter ?? SchoolScope.HomeSchool(User);
        VisibleSchools = [.. (await Data.SchoolsAsync()).Where(s => SchoolScope.CanSee(User, s.Id)).Take(200)];
        requested ??= VisibleSchools.FirstOrDefault()?.Id;
        School = requested is not null && SchoolScope.CanSee(User, requested) ? await Data.SchoolAsync(requested) : null;
        NotFound = School is null;
        if (School is not null) await LoadAsync();
    }

    /// <summary>Loads the page's data for <see cref="School"/>.</summary>
    protected abstract Task LoadAsync();

    /// <summary>A live change of the school; default: reload the page's data.</summary>
    protected virtual Task OnLiveAsync(LiveChange change) => LoadAsync();

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        // Follow the school on screen; a navigation to another school (same page) moves the subscription.
        if (School is not null && (_live is null || _liveSchool != School.Id))
        {
            if (_live is not null) await _live.DisposeAsync();
            _liveSchool = School.Id;
            _live = await Hub.ListenAsync(School.Id, OnChange);
            if (!IsLive)
            {
                IsLive = true;
                StateHasChanged();
            }
        }
    }

    private void OnChange(LiveChange change)
    {
        // Coalesce bursts: one refresh at a time, then render.
        if (change.Alert is null && change.Lockdown is null && Interlocked.Exchange(ref _refreshQueued, 1) == 1) return;
        _ = InvokeAsync(async () =>
        {
            try
            {
                Volatile.Write(ref _refreshQueued, 0);
                await OnLiveAsync(change);
                StateHasChanged();
            }
            catch (ObjectDisposedException)
            {
                // The circuit closed meanwhile.
            }
        });
    }

    public virtual async ValueTask DisposeAsync()
    {
        if (_live is not null) await _live.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    protected static string Local(DateTimeOffset at, SchoolSpec school) =>
        TimeZoneInfo.ConvertTime(at, TimeZoneInfo.FindSystemTimeZoneById(school.TimeZoneId)).ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
}
