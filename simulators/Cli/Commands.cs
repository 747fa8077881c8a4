using System.CommandLine;
using System.Globalization;
using Campus.Simulators.District;
using Campus.Simulators.Fleet;
using Campus.Simulators.Load;
using Campus.Simulators.Scenarios;
using Spectre.Console;

namespace Campus.Simulators.Cli;

/// <summary>The command line: <c>district</c>, <c>validate FILE</c>, <c>generate-district</c>.</summary>
internal static class Commands
{
    public static Command District()
    {
        var broker = new Option<string>("--broker") { Description = "Broker address, mqtt://host:port", DefaultValueFactory = _ => "mqtt://127.0.0.1:1883" };
        var district = new Option<FileInfo?>("--district") { Description = "District file (YAML or JSON); default: the shipped districts/default.yaml" };
        var speed = new Option<double>("--speed") { Description = "Simulated seconds per real second (60 = one simulated minute per second; 0 = as fast as possible)", DefaultValueFactory = _ => 60 };
        var scenario = new Option<string?>("--scenario") { Description = "Scripted scenario: " + string.Join(", ", ScenarioCatalog.Names) };
        scenario.AcceptOnlyFromAmong([.. ScenarioCatalog.Names]);
        var seed = new Option<int>("--seed") { Description = "Random seed; the same seed gives the same run", DefaultValueFactory = _ => 1 };
        var load = new Option<int?>("--load") { Description = "Run N lightweight devices (no firmware) and report msg/s" };
        var duration = new Option<string?>("--duration") { Description = "Simulated time to run: 90s, 30m, 8h, 1d or hh:mm:ss (load mode: real time)" };
        var credentials = new Option<FileInfo?>("--credentials") { Description = "Device credentials issued by the controller (JSON array of {deviceId, mqttPassword, hmacKeyBase64}); default: anonymous broker" };
        var standIn = new Option<bool>("--stand-in") { Description = "Publish the retained commands a controller would (kit configs, timetables, allow-lists); anonymous broker only" };
        var start = new Option<string?>("--start") { Description = "Local start time (HH:mm) in the first school's time zone on the district's date; default 06:30 or the scenario's start" };
        var idleStep = new Option<string?>("--idle-step") { Description = "A longer simulated step (e.g. 10s) for quiet times: no card tap near, no scenario step near, no door in use" };
        var school = new Option<string[]>("--school") { Description = "Simulate only these schools", AllowMultipleArgumentsPerToken = true };
        var command = new Command("district", "Run a simulated district against an MQTT broker.")
        {
            broker, district, speed, scenario, seed, load, duration, credentials, standIn, school, start, idleStep,
        };
        command.SetAction(async (parse, ct) =>
        {
            var (host, port) = ParseBroker(parse.GetValue(broker)!);
            TimeSpan? length = parse.GetValue(duration) is { } d ? SimTime.Parse(d) : null;
            if (parse.GetValue(load) is { } n)
            {
                return await RunLoadAsync(host, port, n, parse.GetValue(speed), length ?? TimeSpan.FromSeconds(20), parse.GetValue(seed), ct);
            }

            var model = LoadDistrict(parse.GetValue(district)?.FullName);
            var options = new SimulationOptions
            {
                BrokerHost = host,
                BrokerPort = port,
                Speed = parse.GetValue(speed),
                Seed = parse.GetValue(seed),
                StartUtc = parse.GetValue(start) is { } at
                    ? Day.DayModel.Utc(model.Schools[0], model.Date.ToDateTime(TimeOnly.ParseExact(at, "HH:mm", CultureInfo.InvariantCulture)))
                    : null,
                Scenario = parse.GetValue(scenario),
                Duration = length,
                IdleStep = parse.GetValue(idleStep) is { } idle ? SimTime.Parse(idle) : null,
                Credentials = parse.GetValue(credentials) is { } c ? CredentialsFile.Load(c.FullName) : null,
                StandInController = parse.GetValue(standIn),
                Schools = parse.GetValue(school) is { Length: > 0 } s ? s : null,
                QuietTimeout = TimeSpan.FromSeconds(2),
            };
            return await RunDistrictAsync(model, options, ct);
        });
        return command;
    }

    public static Command Validate()
    {
        var file = new Argument<FileInfo>("file") { Description = "District file to check" };
        var command = new Command("validate", "Check a district file and print its sizes.") { file };
        command.SetAction(parse =>
        {
            try
            {
                var model = DistrictLoader.LoadFile(parse.GetValue(file)!.FullName);
                Console.WriteLine($"{model.Name}: {model.Schools.Count} schools, {model.Rooms.Count()} rooms, {model.Devices.Count()} devices, {model.People.Count} people.");
                return 0;
            }
            catch (DistrictFileException e)
            {
                Console.Error.WriteLine(e.Message);
                return 2;
            }
        });
        return command;
    }

    public static Command GenerateDistrict()
    {
        var seed = new Option<int>("--seed") { Description = "Generator seed", DefaultValueFactory = _ => 2026 };
        var output = new Option<FileInfo>("--output") { Description = "File to write", DefaultValueFactory = _ => new FileInfo(Path.Combine("simulators", "districts", "default.yaml")) };
        var schools = new Option<int>("--schools") { DefaultValueFactory = _ => 3 };
        var people = new Option<int>("--people") { DefaultValueFactory = _ => 2000 };
        var command = new Command("generate-district", "Write a district file, deterministically from a seed.") { seed, output, schools, people };
        command.SetAction(parse =>
        {
            var text = DistrictGenerator.Generate(new DistrictGeneratorOptions { Seed = parse.GetValue(seed), Schools = parse.GetValue(schools), People = parse.GetValue(people) });
            var file = parse.GetValue(output)!;
            file.Directory?.Create();
            File.WriteAllText(file.FullName, text);
            var model = DistrictLoader.Parse(text, file.Name);
            Console.WriteLine($"Wrote {file.FullName}: {model.Schools.Count} schools, {model.Rooms.Count()} rooms, {model.Devices.Count()} devices, {model.People.Count} people.");
            return 0;
        });
        return command;
    }

    internal static (string Host, int Port) ParseBroker(string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme != "mqtt" || uri.Host.Length == 0)
            throw new ArgumentException($"'{text}' is not a broker address; use mqtt://host:port.");
        return (uri.Host, uri.IsDefaultPort || uri.Port < 0 ? 1883 : uri.Port);
    }

    internal static DistrictModel LoadDistrict(string? path)
    {
        path ??= new[] { Path.Combine(AppContext.BaseDirectory, "districts", "default.yaml"), Path.Combine("simulators", "districts", "default.yaml") }.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException("The default district file was not found; pass --district FILE.");
        return DistrictLoader.LoadFile(path);
    }

    private static async Task<int> RunDistrictAsync(DistrictModel model, SimulationOptions options, CancellationToken ct)
    {
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(model.Name)}[/]: connecting {model.Devices.Count()} devices to {options.BrokerHost}:{options.BrokerPort} ...");
        await using var simulation = await DistrictSimulation.StartAsync(model, options, ct);
        foreach (var line in simulation.Stats.ScenarioLog) Console.WriteLine(line);
        foreach (var line in simulation.Diagnostics()) Console.WriteLine("  " + line);
        using var registration = ct.Register(() => _ = simulation.StopAsync());
        if (Console.IsOutputRedirected)
        {
            while (!simulation.Completion.IsCompleted)
            {
                await Task.WhenAny(simulation.Completion, Task.Delay(5000, CancellationToken.None));
                var s = simulation.Stats;
                Console.WriteLine($"{s.SimulatedUtc:u} connected {s.Connected}/{s.Devices} published {s.Published} ({s.MessagesPerSecond:0.0} msg/s) speed x{s.AchievedSpeed:0.0} taps {s.TapsDone}");
            }
        }
        else
        {
            await AnsiConsole.Live(Render(simulation)).StartAsync(async ctx =>
            {
                while (!simulation.Completion.IsCompleted)
                {
                    await Task.WhenAny(simulation.Completion, Task.Delay(500, CancellationToken.None));
                    ctx.UpdateTarget(Render(simulation));
                }
            });
        }

        await simulation.Completion;
        var final = simulation.Stats;
        await simulation.StopAsync();
        Console.WriteLine($"Done: {final.SimulatedElapsed} simulated in {final.RealElapsed:hh\\:mm\\:ss} (x{final.AchievedSpeed:0.0}), {final.Devices} devices, {final.Published} messages ({final.MessagesPerSecond:0.0} msg/s), {final.TapsDone} card taps, {final.LateSteps} late steps.");
        return 0;
    }

    private static Table Render(DistrictSimulation simulation)
    {
        var s = simulation.Stats;
        var school = simulation.District.Schools[0];
        var table = new Table().Border(TableBorder.Rounded).AddColumn("").AddColumn("");
        table.AddRow("simulated time", $"{TimeZoneInfo.ConvertTimeFromUtc(s.SimulatedUtc, school.TimeZone):yyyy-MM-dd HH:mm:ss} ({school.TimeZoneId})");
        table.AddRow("speed", $"x{s.AchievedSpeed:0.0} (step {simulation.Step.TotalSeconds:0.0} s, {s.LateSteps} late)");
        table.AddRow("devices connected", $"{s.Connected} / {s.Devices}");
        table.AddRow("messages", $"{s.Published} published, {s.Acknowledged} acknowledged, {s.MessagesPerSecond:0.0} msg/s");
        table.AddRow("commands received", s.CommandsReceived.ToString(CultureInfo.InvariantCulture));
        table.AddRow("card taps", $"{s.TapsDone} ({s.TapsMissed} missed)");
        if (simulation.Scenario is { } plan)
        {
            table.AddRow("scenario", Markup.Escape(plan.Name));
            foreach (var line in s.ScenarioLog) table.AddRow("", Markup.Escape(line));
        }

        return table;
    }

    private static async Task<int> RunLoadAsync(string host, int port, int devices, double speed, TimeSpan duration, int seed, CancellationToken ct)
    {
        // Every lightweight device reports every 10 simulated seconds.
        var interval = TimeSpan.FromSeconds(10 / Math.Max(speed, 0.001));
        LoadResult? result = null;
        await AnsiConsole.Progress().StartAsync(async ctx =>
        {
            var task = ctx.AddTask($"{devices} devices, one message per {interval.TotalMilliseconds:0} ms each", maxValue: duration.TotalSeconds);
            var started = DateTime.UtcNow;
            result = await LoadGenerator.RunAsync(host, port, devices, interval, duration, seed,
                (acked, connected) =>
                {
                    task.Value = Math.Min(duration.TotalSeconds, (DateTime.UtcNow - started).TotalSeconds);
                    task.Description = $"{connected}/{devices} connected, {acked} messages acknowledged";
                }, ct);
            task.Value = task.MaxValue;
        });
        var r = result!;
        Console.WriteLine($"Load: {r.Connected}/{r.Devices} devices, {r.Acknowledged} messages acknowledged in {r.Elapsed.TotalSeconds:0.0} s = {r.MessagesPerSecond:0} msg/s; target {r.TargetPerSecond:0} msg/s; ratio to target {r.RatioToTarget:0.00}; {r.Failed} failed.");
        return r.Failed == 0 ? 0 : 1;
    }
}

/// <summary>Simulated durations on the command line: 90s, 30m, 8h, 1d, 1h30m or hh:mm:ss.</summary>
internal static class SimTime
{
    public static TimeSpan Parse(string text)
    {
        if (TimeSpan.TryParseExact(text, @"hh\:mm\:ss", CultureInfo.InvariantCulture, out var exact)) return exact;
        var total = TimeSpan.Zero;
        int i = 0;
        bool any = false;
        while (i < text.Length)
        {
            int start = i;
            while (i < text.Length && char.IsDigit(text[i])) i++;
            if (start == i || i == text.Length) throw new FormatException($"'{text}' is not a duration; use 90s, 30m, 8h, 1d, 1h30m or hh:mm:ss.");
            int n = int.Parse(text.AsSpan(start, i - start), CultureInfo.InvariantCulture);
            total += text[i++] switch
            {
                's' => TimeSpan.FromSeconds(n),
                'm' => TimeSpan.FromMinutes(n),
                'h' => TimeSpan.FromHours(n),
                'd' => TimeSpan.FromDays(n),
                _ => throw new FormatException($"'{text}' is not a duration; use 90s, 30m, 8h, 1d, 1h30m or hh:mm:ss."),
            };
            any = true;
        }

        return any ? total : throw new FormatException($"'{text}' is not a duration.");
    }
}
