namespace Campus.Testing;

/// <summary>
/// A fresh folder under the system temp folder that deletes itself, with everything in it, on
/// Dispose/DisposeAsync. Deleting tolerates files still held open or already gone, so a test that
/// failed half-way still leaves nothing behind.
/// </summary>
public sealed class TempDirectory : IDisposable, IAsyncDisposable
{
    private TempDirectory(string path) => Path = path;

    /// <summary>The folder's full path.</summary>
    public string Path { get; }

    /// <summary>Creates a new empty folder whose name starts with <paramref name="prefix"/>.</summary>
    public static TempDirectory Create(string prefix = "campus-test-") =>
        new(Directory.CreateTempSubdirectory(prefix).FullName);

    /// <summary>
    /// The full path of <paramref name="name"/> inside the folder; with <paramref name="content"/>,
    /// the file is written with it, otherwise it is not created.
    /// </summary>
    public string File(string name, string? content = null)
    {
        var path = System.IO.Path.Combine(Path, name);
        if (content is not null) System.IO.File.WriteAllText(path, content);
        return path;
    }

    public override string ToString() => Path;

    public void Dispose() => Delete(Path);

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Deletes <paramref name="path"/> recursively; a folder already gone or still in use is not an error.</summary>
    public static void Delete(string path)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                if (!Directory.Exists(path)) return;
                Directory.Delete(path, recursive: true);
                return;
            }
            catch (DirectoryNotFoundException) { return; }
            catch (IOException) { }                  // a file still held open, or one appearing meanwhile
            catch (UnauthorizedAccessException) { }  // read-only entries
            Thread.Sleep(50 * (attempt + 1));
        }
    }
}
