namespace Campus.Firmware.Tests;

public sealed class SubsetTests
{
    [Fact]
    public void Every_firmware_source_file_stays_inside_the_nanoframework_subset()
    {
        var files = FirmwareSources();
        Assert.NotEmpty(files);

        var violations = SubsetChecker.Check(files);

        Assert.True(violations.Count == 0, $"{violations.Count} subset violation(s):\n" + string.Join("\n", violations));
    }

    [Fact]
    public void Firmware_project_keeps_implicit_usings_disabled()
    {
        string project = File.ReadAllText(RepositoryPaths.Combine("firmware", "Campus.Firmware", "Campus.Firmware.csproj"));
        Assert.Contains("<ImplicitUsings>disable</ImplicitUsings>", project);
    }

    [Fact]
    public void A_clean_snippet_passes()
    {
        const string source = """
            using System;
            using System.Collections;
            using System.Threading;
            using System.Text;
            using System.IO;
            namespace Campus.Firmware.Sample
            {
                public delegate void Tick(object sender, EventArgs e);
                public sealed class Clean
                {
                    private readonly ArrayList _items = new ArrayList();
                    private readonly Hashtable _map = new Hashtable();
                    private string? _name;
                    public event Tick? Ticked;
                    public int Sum(byte[] data)
                    {
                        int total = 0;
                        foreach (byte b in data) { total += b; }
                        lock (_items) { _items.Add(total); }
                        var sb = new StringBuilder();
                        sb.Append(total);
                        _map["x"] = sb.ToString();
                        _name = "n";
                        using (var ms = new MemoryStream(data)) { total += (int)ms.Length; }
                        new Thread(() => Thread.Sleep(1)).Start();
                        return total + Math.Abs(-1) + (_name == null ? 0 : 1);
                    }
                }
            }
            """;
        Assert.Empty(SubsetChecker.Check(new[] { ("Clean.cs", source) }));
    }

    [Theory]
    [InlineData("generic-type", "using System.Collections.Generic; class A { List<int> x = new List<int>(); }")]
    [InlineData("generic-type", "class A { System.Collections.Generic.Dictionary<string, int> d; }")]
    [InlineData("generic-type", "class A { System.Nullable<int> n; }")]
    [InlineData("generic-declaration", "class Box<T> { }")]
    [InlineData("generic-declaration", "class A { void M<T>(T t) where T : class { } }")]
    [InlineData("generic-method", "class A { int M(int[] a) { return System.Array.IndexOf(a, 3); } }")]
    [InlineData("nullable-value-type", "class A { int? n; }")]
    [InlineData("nullable-value-type", "class A { System.DateTime? at; }")]
    [InlineData("tuple", "class A { (int, string) Pair() { return (1, \"a\"); } }")]
    [InlineData("tuple", "class A { void M() { var (a, b) = Make(); } System.Collections.DictionaryEntry Make() => default; }")]
    [InlineData("linq", "using System.Linq; class A { }")]
    [InlineData("linq", "class A { object M(int[] a) { return from x in a select x; } }")]
    [InlineData("linq", "class A { int M(int[] a) { return System.Linq.Enumerable.Count(a); } }")]
    [InlineData("async", "class A { async void M() { } }")]
    [InlineData("async", "using System.Threading.Tasks; class A { }")]
    [InlineData("async", "class A { System.Threading.Tasks.Task M() { return System.Threading.Tasks.Task.CompletedTask; } }")]
    [InlineData("span", "class A { unsafe void M() { int* p = stackalloc int[4]; } }")]
    [InlineData("span", "class A { void M(System.Span<byte> s) { } }")]
    [InlineData("span", "ref struct R { }")]
    [InlineData("record", "record R(int X);")]
    [InlineData("dynamic", "class A { dynamic d; }")]
    [InlineData("json", "using System.Text.Json; class A { }")]
    [InlineData("json", "class A { string M() { return System.Text.Json.JsonSerializer.Serialize(1); } }")]
    [InlineData("using", "using System.Net.Http; class A { }")]
    [InlineData("using", "using static System.Net.Dns; class A { }")]
    [InlineData("namespace", "class A { object M() { return new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp); } }")]
    [InlineData("io", "using System.IO; class A { string M() { return File.ReadAllText(\"x\"); } }")]
    public void Checker_catches_each_rule(string rule, string source)
    {
        var violations = SubsetChecker.Check(new[] { ("Bad.cs", source) });

        Assert.True(violations.Any(v => v.Rule == rule), $"expected a '{rule}' violation, got: [{string.Join("; ", violations)}]");
        Assert.All(violations, v => Assert.Equal("Bad.cs", v.File));
    }

    [Fact]
    public void Violations_name_file_line_and_rule()
    {
        const string source = "class A\n{\n    int? n;\n}\n";
        var v = Assert.Single(SubsetChecker.Check(new[] { ("Apps/Door/Bad.cs", source) }));
        Assert.Equal("Apps/Door/Bad.cs:3: nullable-value-type: int? is Nullable<T>", v.ToString());
    }

    private static List<(string Path, string Source)> FirmwareSources()
    {
        string root = RepositoryPaths.Combine("firmware");
        return Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(p => !IsBuildOutput(Path.GetRelativePath(root, p)))
            .OrderBy(p => p, StringComparer.Ordinal)
            .Select(p => (Path.GetRelativePath(RepositoryPaths.Root, p).Replace('\\', '/'), File.ReadAllText(p)))
            .ToList();
    }

    private static bool IsBuildOutput(string relative)
    {
        var parts = relative.Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        return parts.Contains("bin") || parts.Contains("obj");
    }
}
