using System.Diagnostics;
using System.Runtime.InteropServices;

namespace PruneBenchmark;

/// <summary>Runs a command to its end and measures its wall time and peak resident memory (Linux: posix_spawn + wait4,
/// whose rusage holds the child's own peak RSS; output goes to /dev/null).</summary>
internal static partial class ChildProcess
{
    /// <summary>One run: wall seconds, peak RSS in MB, exit code.</summary>
    public readonly record struct Run(double Seconds, double PeakMb, int ExitCode);

    public static Run Measure(IReadOnlyList<string> argv)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("Process measurement needs Linux (wait4).");
        // sh execs the command (same pid) with output discarded; its own few hundred KB do not raise the peak.
        var script = "exec " + string.Join(" ", argv.Select(Quote)) + " >/dev/null 2>&1";
        string[] args = ["/bin/sh", "-c", script];
        var env = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>().Select(e => $"{e.Key}={e.Value}").ToArray();
        var argvPtr = ToCStrings(args);
        var envPtr = ToCStrings(env);
        try
        {
            var clock = Stopwatch.StartNew();
            int rc = PosixSpawn(out int pid, "/bin/sh", IntPtr.Zero, IntPtr.Zero, argvPtr, envPtr);
            if (rc != 0) throw new InvalidOperationException($"posix_spawn failed: errno {rc}");
            var usage = new byte[256]; // struct rusage is 144 bytes on x86-64/arm64 Linux
            int status;
            int waited;
            while ((waited = Wait4(pid, out status, 0, usage)) < 0 && Marshal.GetLastPInvokeError() == 4 /* EINTR */) { }
            double seconds = clock.Elapsed.TotalSeconds;
            if (waited != pid) throw new InvalidOperationException($"wait4 failed: errno {Marshal.GetLastPInvokeError()}");
            long maxRssKb = BitConverter.ToInt64(usage, 32); // after ru_utime and ru_stime (two 16-byte timevals)
            int exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f);
            return new Run(seconds, maxRssKb / 1024.0, exit);
        }
        finally
        {
            Free(argvPtr, args.Length);
            Free(envPtr, env.Length);
        }
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static IntPtr ToCStrings(string[] strings)
    {
        var array = Marshal.AllocHGlobal(IntPtr.Size * (strings.Length + 1));
        for (int i = 0; i < strings.Length; i++) Marshal.WriteIntPtr(array, i * IntPtr.Size, Marshal.StringToCoTaskMemUTF8(strings[i]));
        Marshal.WriteIntPtr(array, strings.Length * IntPtr.Size, IntPtr.Zero);
        return array;
    }

    private static void Free(IntPtr array, int count)
    {
        for (int i = 0; i < count; i++) Marshal.FreeCoTaskMem(Marshal.ReadIntPtr(array, i * IntPtr.Size));
        Marshal.FreeHGlobal(array);
    }

    [LibraryImport("libc", EntryPoint = "posix_spawn", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int PosixSpawn(out int pid, string path, IntPtr fileActions, IntPtr attributes, IntPtr argv, IntPtr envp);

    [LibraryImport("libc", EntryPoint = "wait4", SetLastError = true)]
    private static partial int Wait4(int pid, out int status, int options, [Out] byte[] rusage);
}
