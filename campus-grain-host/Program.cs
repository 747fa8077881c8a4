using Campus.GrainHost;

// The campus controller host: grains, ingestion, embedded broker, storage; later the dashboard.
// `dotnet run --project campus-grain-host` runs on embedded defaults (broker on 1883, SQLite in ./data).
var builder = WebApplication.CreateBuilder(args);

builder.AddCampusControllerHost();      // Campus:Storage, Campus:Mqtt, Campus:Ingest, Campus:Controller, Campus:History

var app = builder.Build();

app.MapCampusHealth();                  // GET /healthz: broker, storage, ingestion
app.MapCampusDashboardMountPoint();     // where the dashboard (Campus.Dashboard) mounts its UI and API

app.Run();
