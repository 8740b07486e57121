namespace OnnxPrune.Onnx;

/// <summary>
/// Writes a set of files so that readers see either the old files or the complete new ones, never a
/// half-written file: every file is written to a temporary sibling, flushed, and renamed into place only
/// after all of them were written. On failure the temporaries are deleted and the targets stay untouched.
/// </summary>
internal sealed class AtomicFileWriter : IDisposable
{
    private readonly List<(string Temp, string Target)> _files = new();
    private bool _committed;

    /// <summary>Opens a stream to a temporary file that will become <paramref name="targetPath"/> on commit.</summary>
    public FileStream Create(string targetPath)
    {
        var full = Path.GetFullPath(targetPath);
        var dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir))
            throw new DirectoryNotFoundException($"{targetPath}: the folder '{dir}' does not exist.");
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16);
        _files.Add((temp, full));
        return stream;
    }

    /// <summary>Moves every temporary file into place.</summary>
    public void Commit()
    {
        foreach (var (temp, target) in _files)
            File.Move(temp, target, overwrite: true);
        _committed = true;
    }

    /// <summary>Deletes temporaries that were not committed.</summary>
    public void Dispose()
    {
        if (_committed) return;
        foreach (var (temp, _) in _files)
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
