using Campus.Dashboard;
using Campus.GrainHost;
using Campus.GrainHost.Demo;

// The campus controller host: grains, ingestion, embedded broker, storage and the dashboard.
// `dotnet run --project campus-grain-host` runs on embedded defaults (broker on 1883, SQLite in ./data);
// `-- --demo` also seeds the demo accounts and runs a simulated district in this process
// (simulators/districts/small.yaml, or `--demo-district FILE`), provisioned into the registry.
var demo = args.Contains("--demo");
var builder = WebApplication.CreateBuilder(args.Where(a => a != "--demo").Select(a => a == "--demo-district" ? "--Campus:Demo:District" : a).ToArray());
if (demo) builder.Configuration["Campus:Dashboard:Demo"] = "true";
builder.UseInlineSocketCompletions();   // Campus:Host:InlineSocketCompletions, before any socket is opened

builder.AddCampusControllerHost();      // Campus:Storage, Campus:Mqtt, Campus:Ingest, Campus:Controller, Campus:History
builder.Services.AddCampusDashboard(builder.Configuration);   // Campus:Dashboard
if (demo) builder.AddCampusDemoDistrict();                      // Campus:Demo: the simulated district

var app = builder.Build();

app.MapCampusHealth();                  // GET /healthz: broker, storage, ingestion
app.MapCampusDashboardMountPoint();     // where the dashboard (Campus.Dashboard) mounts its UI and API
app.MapCampusDashboard();               // pages, /api/v1, /openapi/v1.json

app.PrintCampusDemoBanner();           // with --demo: the URL and the demo accounts
app.Run();
