namespace PruneBenchmark;

/// <summary>This process's resident memory on Linux: the peak since the last <see cref="Reset"/> (VmHWM, reset by
/// writing 5 to /proc/self/clear_refs) and the current value (VmRSS). Elsewhere, or where the reset is refused, the
/// peak is the process's lifetime peak (<see cref="CanReset"/> says which).</summary>
internal static class PeakMemory
{
    public static bool CanReset { get; private set; } = OperatingSystem.IsLinux();

    public static void Reset()
    {
        if (!CanReset) return;
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { CanReset = false; }
    }

    /// <summary>Peak resident MB since the last reset.</summary>
    public static double PeakMb() => ReadKb("VmHWM:") is long kb ? kb / 1024.0 : Environment.WorkingSet / 1048576.0;

    private static long? ReadKb(string key)
    {
        if (!OperatingSystem.IsLinux()) return null;
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(key, StringComparison.Ordinal))
                return long.Parse(line.AsSpan(key.Length).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture);
        return null;
    }
}
