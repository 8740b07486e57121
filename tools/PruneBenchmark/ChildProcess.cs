using System.Diagnostics;
using System.Globalization;

namespace PruneBenchmark;

/// <summary>Runs a command to its end (output discarded) and measures its wall time, CPU time and peak resident memory.</summary>
/// <remarks>A small python launcher forks, execs the command and reads the child's own rusage from <c>os.wait4</c>.
/// (posix_spawn from this process would not do: glibc spawns with a vfork-style clone, so the child's recorded peak
/// starts at this benchmark's peak.) The wall time runs from fork to exit, without the launcher's start-up.</remarks>
internal static class ChildProcess
{
    /// <summary>One run: wall seconds, user + system CPU seconds, peak RSS in MB, exit code.</summary>
    public readonly record struct Run(double Seconds, double CpuSeconds, double PeakMb, int ExitCode);

    private const string Launcher = """
        import os, sys, time
        argv = sys.argv[1:]
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            try:
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, 1)
                os.dup2(null, 2)
                os.execvp(argv[0], argv)
            finally:
                os._exit(127)
        _, status, usage = os.wait4(pid, 0)
        seconds = time.perf_counter() - start
        print(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
        """;

    /// <summary>Runs <paramref name="argv"/> under <paramref name="python"/>'s launcher.</summary>
    public static Run Measure(string python, IReadOnlyList<string> argv)
    {
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Launcher);
        foreach (var a in argv) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {python}");
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var f = output.Split(' ', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (process.ExitCode != 0 || f.Length != 4) throw new InvalidOperationException($"the launcher failed ({process.ExitCode}) on {string.Join(" ", argv)}");
        double D(int i) => double.Parse(f[i], CultureInfo.InvariantCulture);
        return new Run(D(0), D(1), D(2) / 1024, (int)D(3)); // ru_maxrss is in KiB on Linux
    }

    /// <summary>True when <paramref name="python"/> runs and imports onnx.</summary>
    public static bool HasOnnx(string python)
    {
        try
        {
            var start = new ProcessStartInfo(python) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add("import onnx");
            using var process = Process.Start(start);
            if (process is null) return false;
            process.StandardOutput.ReadToEnd();
            process.StandardError.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception) { return false; }
    }
}
