namespace Campus.Dashboard;

/// <summary>Settings of the dashboard (section "Campus:Dashboard").</summary>
public sealed class DashboardOptions
{
    public const string SectionName = "Campus:Dashboard";

    /// <summary>Demo mode: seeds the demo accounts and shows the developer page.</summary>
    public bool Demo { get; set; }

    /// <summary>Where the user accounts live; null means "same place as the controller" (Campus:Storage).</summary>
    public UserStoreProvider? UserStore { get; set; }

    /// <summary>Sign-in attempts allowed per user name and client address per window.</summary>
    public int LoginPermitLimit { get; set; } = 10;

    public TimeSpan LoginWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>PBKDF2 iterations of the password hasher (ASP.NET Core Identity format v3).</summary>
    public int PasswordIterations { get; set; } = 600_000;

    /// <summary>Energy tariff for the cost column, per kWh.</summary>
    public decimal TariffPerKwh { get; set; } = 0.65m;

    public string Currency { get; set; } = "CNY";

    /// <summary>Password of every demo account (demo mode only).</summary>
    public string DemoPassword { get; set; } = "campus-demo";

    /// <summary>How long a sign-in lasts without activity.</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(8);
}

public enum UserStoreProvider
{
    InMemory,
    Sqlite,
    Postgres,
}
