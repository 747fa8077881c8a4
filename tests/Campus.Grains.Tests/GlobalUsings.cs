global using Campus.Testing;
global using Microsoft.Extensions.DependencyInjection;
