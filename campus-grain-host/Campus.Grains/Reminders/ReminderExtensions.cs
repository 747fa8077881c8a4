using Campus.Grains.Reminders;
using Microsoft.Extensions.DependencyInjection;

namespace Campus.Grains;

/// <summary>Reminder operations available inside a grain (<c>this.RegisterOrUpdateReminder(...)</c>).</summary>
public static class GrainReminderExtensions
{
    /// <summary>
    /// Registers (or replaces) a persistent reminder: first tick after <paramref name="dueTime"/>, then every
    /// <paramref name="period"/>. The grain must implement <see cref="IRemindable"/>.
    /// </summary>
    public static Task<IGrainReminder> RegisterOrUpdateReminder(this Grain grain, string reminderName, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(grain);
        if (grain is not IRemindable)
            throw new InvalidOperationException($"Grain {grain.GrainId} ({grain.GetType()}) must implement IRemindable to register reminders.");
        return Service(grain).RegisterOrUpdateAsync(grain.GrainId, reminderName, dueTime, period);
    }

    /// <summary>The reminder of this name, or null.</summary>
    public static Task<IGrainReminder?> GetReminder(this Grain grain, string reminderName)
    {
        ArgumentNullException.ThrowIfNull(grain);
        return Service(grain).GetAsync(grain.GrainId, reminderName);
    }

    /// <summary>All reminders of this grain.</summary>
    public static Task<IReadOnlyList<IGrainReminder>> GetReminders(this Grain grain)
    {
        ArgumentNullException.ThrowIfNull(grain);
        return Service(grain).GetAllAsync(grain.GrainId);
    }

    /// <summary>Removes a reminder from the table and stops its ticks.</summary>
    public static Task UnregisterReminder(this Grain grain, IGrainReminder reminder)
    {
        ArgumentNullException.ThrowIfNull(grain);
        ArgumentNullException.ThrowIfNull(reminder);
        return Service(grain).UnregisterAsync(grain.GrainId, reminder.ReminderName);
    }

    private static ReminderService Service(Grain grain) => grain.Activation.Runtime.Services.GetRequiredService<ReminderService>();
}
