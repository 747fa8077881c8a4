using Campus.Firmware.Drivers;
using Campus.Firmware.Ports;
using Campus.Simulators.Chips;

namespace Campus.Firmware.Tests.Drivers;

public sealed class GpioHelperTests
{
    private readonly SimulatedClock _clock = new(new DateTime(2026, 11, 26, 8, 0, 0, DateTimeKind.Utc));
    private readonly GpioModel _gpio;

    public GpioHelperTests()
    {
        _gpio = GpioModel.Esp32(_clock);
    }

    [Fact]
    public void Debounced_reed_switch_ignores_bounces_and_reports_a_steady_change_once()
    {
        _gpio.SetInput(34, PinValue.Low);   // door closed: reed pulls low
        var reed = new DebouncedInput(_gpio, _clock, 34, PinMode.Input, activeLow: true, debounceMs: 30);
        var changes = new List<bool>();
        reed.Changed += (_, e) => changes.Add(e.IsActive);
        Assert.True(reed.IsActive);

        // Door opens with contact bounce.
        foreach (var level in new[] { PinValue.High, PinValue.Low, PinValue.High, PinValue.Low, PinValue.High })
        {
            _gpio.SetInput(34, level);
            Step(reed, 5);
        }

        Assert.Empty(changes);
        Step(reed, 10);
        Step(reed, 10);
        Step(reed, 10);

        Assert.Equal(new[] { false }, changes);
        Assert.False(reed.IsActive);
    }

    [Fact]
    public void A_glitch_shorter_than_the_debounce_time_is_ignored_even_between_polls()
    {
        var rex = new DebouncedInput(_gpio, _clock, 35, PinMode.Input, activeLow: true, debounceMs: 20);
        _gpio.SetInput(35, PinValue.High);
        Step(rex, 50);
        var changes = new List<bool>();
        rex.Changed += (_, e) => changes.Add(e.IsActive);

        _gpio.SetInput(35, PinValue.Low);
        _clock.Advance(TimeSpan.FromMilliseconds(2));
        _gpio.SetInput(35, PinValue.High);   // back before any poll
        Step(rex, 25);
        Step(rex, 25);

        Assert.Empty(changes);
    }

    [Fact]
    public void Input_only_pins_refuse_output_mode_and_internal_pulls()
    {
        Assert.Throws<ArgumentException>(() => _gpio.OpenPin(36, PinMode.Output));
        Assert.Throws<ArgumentException>(() => _gpio.OpenPin(39, PinMode.InputPullUp));
        Assert.False(_gpio.IsPinOpen(36));
    }

    [Fact]
    public void Strike_pulse_is_recorded_with_its_length()
    {
        var strike = new PulseOutput(_gpio, _clock, 26, activeLow: false);
        strike.Pulse(5000);
        Assert.True(strike.IsOn);
        for (int i = 0; i < 60; i++)
        {
            _clock.Advance(TimeSpan.FromMilliseconds(100));
            strike.Update();
        }

        Assert.False(strike.IsOn);
        var pulse = Assert.Single(_gpio.Pulses(26));
        Assert.Equal(5000, pulse.DurationMs);
    }

    [Fact]
    public void Buzzer_beep_pattern_produces_the_requested_pulses()
    {
        var buzzer = new PulseOutput(_gpio, _clock, 25, activeLow: false);
        buzzer.Beep(3, 100, 50);
        for (int i = 0; i < 100; i++)
        {
            _clock.Advance(TimeSpan.FromMilliseconds(10));
            buzzer.Update();
        }

        var pulses = _gpio.Pulses(25);
        Assert.Equal(3, pulses.Count);
        Assert.All(pulses, p => Assert.Equal(100, p.DurationMs));
        Assert.Equal(150, pulses[1].StartMs - pulses[0].StartMs);
        Assert.False(buzzer.IsTimed);
    }

    [Fact]
    public void Active_low_led_drives_the_pin_low_when_on()
    {
        var led = new PulseOutput(_gpio, _clock, 32, activeLow: true);
        Assert.Equal(PinValue.High, _gpio.GetOutput(32));
        led.On();
        Assert.Equal(PinValue.Low, _gpio.GetOutput(32));
    }

    [Fact]
    public void Pin_callbacks_fire_only_for_the_registered_edges()
    {
        _gpio.OpenPin(33, PinMode.InputPullUp);
        var seen = new List<PinEventTypes>();
        _gpio.RegisterCallbackForPinValueChangedEvent(33, PinEventTypes.Falling, (_, e) => seen.Add(e.ChangeType));

        _gpio.SetInput(33, PinValue.Low);
        _gpio.SetInput(33, PinValue.High);
        _gpio.SetInput(33, PinValue.Low);

        Assert.Equal(new[] { PinEventTypes.Falling, PinEventTypes.Falling }, seen);
    }

    private void Step(DebouncedInput input, int ms)
    {
        _clock.Advance(TimeSpan.FromMilliseconds(ms));
        input.Update();
    }
}
