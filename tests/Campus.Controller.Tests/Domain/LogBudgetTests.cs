using Campus.Controller.Services;
using Microsoft.Extensions.Time.Testing;

namespace Campus.Controller.Tests.Domain;

public sealed class LogBudgetTests
{
    [Fact]
    public void At_most_the_budget_is_written_per_window_and_the_held_back_lines_are_reported_with_the_next_one()
    {
        var time = new FakeTimeProvider();
        var budget = new LogBudget(time, 3, TimeSpan.FromSeconds(10));
        for (var i = 0; i < 3; i++)
        {
            Assert.True(budget.TryTake(out var none));
            Assert.Equal(0, none);
        }
        for (var i = 0; i < 5; i++)
        {
            Assert.False(budget.TryTake(out _));
        }
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(budget.TryTake(out _));

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(budget.TryTake(out var heldBack));
        Assert.Equal(6, heldBack);
        Assert.True(budget.TryTake(out heldBack));
        Assert.Equal(0, heldBack);
    }
}
