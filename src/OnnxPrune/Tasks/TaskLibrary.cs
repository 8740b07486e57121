using System.Security.Cryptography;
using System.Text.Json;
using OnnxPrune.Onnx;

namespace OnnxPrune.Tasks;

/// <summary>An entry file a listing left out, and why.</summary>
/// <param name="File">The file.</param>
/// <param name="Reason">Why it was left out.</param>
public sealed record SkippedEntry(string File, string Reason);

/// <summary>The readable entries of a library (sorted by creation time, then id) and the files left out.</summary>
/// <param name="Entries">Complete, verified entries that passed the filter.</param>
/// <param name="Skipped">Corrupt or foreign files, each with the reason (a warning for the caller to show).</param>
/// <param name="PendingTemporaries">Temporary files present (entries being written, or left by killed writers).</param>
public sealed record TaskLibraryListing(IReadOnlyList<TaskEntry> Entries, IReadOnlyList<SkippedEntry> Skipped, int PendingTemporaries);

/// <summary>What <see cref="TaskLibrary.Merge"/> did.</summary>
/// <param name="Added">Entries copied into the target.</param>
/// <param name="AlreadyPresent">Entries the target already had (same id, hence same bytes).</param>
/// <param name="Skipped">Files of the sources that were not copied (corrupt, newer format), with the reason.</param>
public sealed record TaskLibraryMergeReport(int Added, int AlreadyPresent, IReadOnlyList<SkippedEntry> Skipped);

/// <summary>Which entries <see cref="TaskLibrary.List"/> returns and how it treats corrupt files.</summary>
public sealed record TaskListingOptions
{
    /// <summary>Only entries recorded on this base model fingerprint (others are left out silently); null for all.</summary>
    public string? BaseFingerprint { get; init; }

    /// <summary>Throw <see cref="CorruptTaskEntryException"/> on the first corrupt file instead of skipping it.</summary>
    public bool Strict { get; init; }
}

/// <summary>
/// A task library on disk: a folder with a manifest (<c>library.json</c>) and one immutable JSON file per entry in
/// <c>entries/</c>, named by the SHA-256 of its bytes. Append-only and mergeable by copying entry files; safe with
/// any number of concurrent writers, on one machine or many sharing a volume, without locks: each entry is written
/// to a uniquely named temporary file in the same folder, flushed to disk and renamed into place (an atomic rename),
/// so readers see whole entries or nothing. The format is documented in <c>Tasks/TASKS.md</c>.
/// </summary>
/// <remarks>Corrupt files (hash mismatch, bad JSON, newer format, invalid contents) are skipped with a
/// <see cref="SkippedEntry"/> by <see cref="List"/> and <see cref="ForBaseModel"/> — one bad file must not stop a fleet
/// from using the others — and raise <see cref="CorruptTaskEntryException"/> from <see cref="Load"/> and strict
/// listings. Temporary files are never listed; <see cref="CleanStaleTemporaries"/> deletes those older than an hour
/// (a live writer's temporary exists for milliseconds).</remarks>
public sealed class TaskLibrary
{
    /// <summary>The library format version this OnnxPrune writes and the newest it reads.</summary>
    public const int FormatVersion = 1;

    /// <summary>File name of the manifest.</summary>
    public const string ManifestFileName = "library.json";

    /// <summary>Folder (under the root) holding the entries.</summary>
    public const string EntriesFolderName = "entries";

    /// <summary>Temporaries younger than this are left alone by default cleaning.</summary>
    public static readonly TimeSpan DefaultStaleAge = TimeSpan.FromHours(1);

    // Test seam: called with the temporary path after an entry is written and flushed, before it is renamed into
    // place (tools/TaskLibraryStress uses it to be killed mid-write deterministically).
    internal static Action<string>? BeforeCommit;

    private TaskLibrary(string root)
    {
        Root = root;
        EntriesDirectory = Path.Combine(root, EntriesFolderName);
    }

    /// <summary>The library folder.</summary>
    public string Root { get; }

    /// <summary>The folder holding the entry files.</summary>
    public string EntriesDirectory { get; }

    /// <summary>Opens an existing library.</summary>
    /// <exception cref="TaskLibraryException">The folder is not a library, or a newer OnnxPrune wrote it.</exception>
    public static TaskLibrary Open(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        var full = Path.GetFullPath(root);
        var manifest = Path.Combine(full, ManifestFileName);
        if (!File.Exists(manifest))
            throw new TaskLibraryException($"{root}: not a task library (no {ManifestFileName}; create one with library add/fill).", root);
        CheckManifest(manifest);
        Directory.CreateDirectory(Path.Combine(full, EntriesFolderName));
        return new TaskLibrary(full);
    }

    /// <summary>Opens a library, creating the folder and manifest when missing (safe when many processes do it at once).</summary>
    /// <exception cref="TaskLibraryException">The folder holds a library of a newer format, or cannot be created.</exception>
    public static TaskLibrary OpenOrCreate(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        var full = Path.GetFullPath(root);
        try
        {
            Directory.CreateDirectory(Path.Combine(full, EntriesFolderName));
            var manifest = Path.Combine(full, ManifestFileName);
            if (!File.Exists(manifest))
            {
                // Every creator writes the same bytes; whichever rename lands last wins, readers never see a partial file.
                var bytes = JsonSerializer.SerializeToUtf8Bytes(
                    new LibraryManifest { Format = LibraryManifest.FormatName, Version = FormatVersion }, TaskJsonContext.Default.LibraryManifest);
                WriteAtomically(manifest, bytes);
            }
            else CheckManifest(manifest);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TaskLibraryException($"{root}: cannot create the task library: {e.Message}", root, e);
        }
        return new TaskLibrary(full);
    }

    /// <summary>Writes an entry (validated first) and returns it with its <see cref="TaskEntry.Id"/> set. Adding an
    /// identical entry again is a no-op returning the same id.</summary>
    /// <exception cref="ArgumentException">The entry is invalid (the message says why).</exception>
    /// <exception cref="TaskLibraryException">The file cannot be written.</exception>
    public TaskEntry Add(TaskEntry entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Problem() is { } p) throw new ArgumentException($"Invalid task-library entry: {p}.", nameof(entry));
        cancellationToken.ThrowIfCancellationRequested();
        var bytes = JsonSerializer.SerializeToUtf8Bytes(entry with { Id = "" }, TaskJsonContext.Default.TaskEntry);
        var id = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var path = EntryPath(id);
        if (!File.Exists(path))
        {
            try { WriteAtomically(path, bytes); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new TaskLibraryException($"{path}: cannot write the task-library entry: {e.Message}", path, e);
            }
        }
        return entry with { Id = id };
    }

    /// <summary>Lists the entries (all, or one base model's), skipping corrupt files with a reason unless strict.</summary>
    /// <exception cref="CorruptTaskEntryException">Strict listing met a corrupt file.</exception>
    public TaskLibraryListing List(TaskListingOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new TaskListingOptions();
        var entries = new List<TaskEntry>();
        var skipped = new List<SkippedEntry>();
        foreach (var file in EntryFiles())
        {
            cancellationToken.ThrowIfCancellationRequested();
            TaskEntry entry;
            try { entry = ReadEntryFile(file); }
            catch (CorruptTaskEntryException e) when (!options.Strict)
            {
                skipped.Add(new SkippedEntry(file, e.Reason));
                continue;
            }
            catch (FileNotFoundException) { continue; }
            if (options.BaseFingerprint is { } fp && !SameFingerprint(fp, entry.BaseFingerprint)) continue;
            entries.Add(entry);
        }
        entries.Sort((a, b) => a.CreatedUtc != b.CreatedUtc ? a.CreatedUtc.CompareTo(b.CreatedUtc) : string.CompareOrdinal(a.Id, b.Id));
        return new TaskLibraryListing(entries, skipped, Temporaries().Count());
    }

    /// <summary>The entries for a base model, refusing a library that holds entries of another base model.</summary>
    /// <param name="fingerprint">The fingerprint of the base model in use.</param>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <exception cref="BaseModelMismatchException">Some entry was recorded on another base model (names both
    /// fingerprints and the file); use <see cref="List"/> with <see cref="TaskListingOptions.BaseFingerprint"/> to
    /// take only this model's entries from a mixed library.</exception>
    public TaskLibraryListing ForBaseModel(string fingerprint, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(fingerprint);
        var all = List(null, cancellationToken);
        var foreign = all.Entries.Where(e => !SameFingerprint(fingerprint, e.BaseFingerprint)).ToList();
        if (foreign.Count > 0)
            throw new BaseModelMismatchException(fingerprint, foreign[0].BaseFingerprint, EntryPath(foreign[0].Id), foreign.Count);
        return all;
    }

    /// <summary>The entries recorded for this task (same data set, class set and label) on this base model, and at
    /// this budget when one is given: what <c>library fill</c> checks to skip tasks a restarted shard already did.</summary>
    public IReadOnlyList<TaskEntry> Find(TaskDescriptor task, string fingerprint, TaskBudget? budget = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentException.ThrowIfNullOrEmpty(fingerprint);
        return List(new TaskListingOptions { BaseFingerprint = fingerprint }, cancellationToken).Entries
            .Where(e => e.Task.SameTask(task) && (budget is null || e.Budget == budget)).ToList();
    }

    /// <summary>Reads one entry by id or by a unique id prefix (at least 6 hex digits).</summary>
    /// <exception cref="TaskLibraryException">No entry, or several, match.</exception>
    /// <exception cref="CorruptTaskEntryException">The entry file is corrupt.</exception>
    public TaskEntry Load(string idOrPrefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(idOrPrefix);
        var prefix = idOrPrefix.ToLowerInvariant();
        if (prefix.Length < 6 || !prefix.All(char.IsAsciiHexDigit))
            throw new TaskLibraryException($"{Root}: '{idOrPrefix}' is not an entry id (at least 6 hex digits).", Root);
        var matches = EntryFiles().Where(f => Path.GetFileNameWithoutExtension(f).StartsWith(prefix, StringComparison.Ordinal)).ToList();
        return matches.Count switch
        {
            0 => throw new TaskLibraryException($"{Root}: no entry with id {idOrPrefix}.", Root),
            1 => ReadEntryFile(matches[0]),
            _ => throw new TaskLibraryException($"{Root}: id prefix {idOrPrefix} matches {matches.Count} entries; give more digits.", Root),
        };
    }

    /// <summary>Reads and verifies one entry file: its SHA-256 must equal its name, its JSON the entry schema of a
    /// supported version, its contents valid.</summary>
    /// <exception cref="CorruptTaskEntryException">Any of those fails (names the file and the reason).</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static TaskEntry ReadEntryFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var bytes = File.ReadAllBytes(path);
        return Parse(path, bytes);
    }

    /// <summary>Copies every entry of the other libraries that <paramref name="target"/> lacks into it (creating
    /// it when missing). Entry files are copied byte for byte, atomically, so a merge running beside writers or
    /// other merges is safe, and merging twice adds nothing. Corrupt source files are skipped and reported.</summary>
    /// <exception cref="TaskLibraryException">A source is not a library or of a newer format; the target cannot be written.</exception>
    public static TaskLibraryMergeReport Merge(string target, IEnumerable<string> others, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(others);
        var into = OpenOrCreate(target);
        var sources = others.Select(Open).ToList();
        int added = 0, present = 0;
        var skipped = new List<SkippedEntry>();
        foreach (var source in sources)
        {
            foreach (var file in source.EntryFiles())
            {
                cancellationToken.ThrowIfCancellationRequested();
                var dest = Path.Combine(into.EntriesDirectory, Path.GetFileName(file));
                if (File.Exists(dest)) { present++; continue; }
                byte[] bytes;
                try
                {
                    bytes = File.ReadAllBytes(file);
                    Parse(file, bytes);
                }
                catch (CorruptTaskEntryException e) { skipped.Add(new SkippedEntry(file, e.Reason)); continue; }
                catch (FileNotFoundException) { continue; }
                try { WriteAtomically(dest, bytes); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new TaskLibraryException($"{dest}: cannot write the merged entry: {e.Message}", dest, e);
                }
                added++;
            }
        }
        return new TaskLibraryMergeReport(added, present, skipped);
    }

    /// <summary>Deletes temporary files (left by killed writers) whose last write is older than
    /// <paramref name="olderThan"/> (default <see cref="DefaultStaleAge"/>); returns how many it deleted. Safe to run
    /// beside writers and other cleaners: a younger temporary may belong to a live writer and is kept.</summary>
    public int CleanStaleTemporaries(TimeSpan? olderThan = null)
    {
        var cutoff = DateTime.UtcNow - (olderThan ?? DefaultStaleAge);
        int deleted = 0;
        foreach (var temp in Temporaries())
        {
            try
            {
                if (File.GetLastWriteTimeUtc(temp) > cutoff) continue;
                File.Delete(temp);
                deleted++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* another cleaner or the writer got there */ }
        }
        return deleted;
    }

    /// <summary>The path an entry with this id has.</summary>
    public string EntryPath(string id) => Path.Combine(EntriesDirectory, id + ".json");

    /// <summary>True when two fingerprints name the same model (hex digits compare case-insensitively).</summary>
    public static bool SameFingerprint(string a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    private IEnumerable<string> EntryFiles() =>
        Directory.EnumerateFiles(EntriesDirectory, "*.json").Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal);

    private IEnumerable<string> Temporaries() =>
        Directory.EnumerateFiles(EntriesDirectory, ".*.tmp");

    private static TaskEntry Parse(string path, byte[] bytes)
    {
        var name = Path.GetFileNameWithoutExtension(path);
        if (name.Length != 64 || !name.All(c => char.IsAsciiHexDigitLower(c) || char.IsAsciiDigit(c)))
            throw new CorruptTaskEntryException(path, "the file name is not an entry id (64 lower-case hex digits + .json)");
        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (hash != name)
            throw new CorruptTaskEntryException(path, $"its SHA-256 is {hash[..12]}…, not its name: the file is truncated or was altered");
        TaskEntry? entry;
        try { entry = JsonSerializer.Deserialize(bytes, TaskJsonContext.Default.TaskEntry); }
        catch (JsonException e) { throw new CorruptTaskEntryException(path, $"not a task entry: {e.Message}", e); }
        if (entry is null) throw new CorruptTaskEntryException(path, "not a task entry: null");
        if (entry.Problem() is { } p) throw new CorruptTaskEntryException(path, p);
        return entry with { Id = name };
    }

    private static void CheckManifest(string manifest)
    {
        LibraryManifest? m;
        try { m = JsonSerializer.Deserialize(File.ReadAllBytes(manifest), TaskJsonContext.Default.LibraryManifest); }
        catch (JsonException e) { throw new TaskLibraryException($"{manifest}: not a task-library manifest: {e.Message}", manifest, e); }
        if (m is null || m.Format != LibraryManifest.FormatName)
            throw new TaskLibraryException($"{manifest}: not a task-library manifest (format is not \"{LibraryManifest.FormatName}\").", manifest);
        if (m.Version < 1 || m.Version > FormatVersion)
            throw new TaskLibraryException($"{manifest}: task-library format version {m.Version} is not supported (this OnnxPrune reads 1..{FormatVersion}).", manifest);
    }

    private static void WriteAtomically(string path, byte[] bytes)
    {
        using var writer = new AtomicFileWriter();
        string temp;
        using (var stream = writer.Create(path))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
            temp = stream.Name;
        }
        BeforeCommit?.Invoke(temp);
        writer.Commit();
    }
}
