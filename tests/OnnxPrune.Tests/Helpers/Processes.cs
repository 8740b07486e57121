using System.Diagnostics;

namespace OnnxPrune.Tests;

/// <summary>Result of a child process.</summary>
public sealed record ProcessResult(int ExitCode, string StdOut, string StdErr)
{
    /// <summary>Both streams, for assertion messages.</summary>
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{StdOut}\nstderr:\n{StdErr}";
}

/// <summary>Runs child processes: the onnxprune CLI and the independent Python checks.</summary>
public static class Processes
{
    /// <summary>Debian's Python with python3-onnx (tools/test.sh installs it). Missing: the test fails.</summary>
    public const string Python = "/usr/bin/python3";

    /// <summary>Runs a process to completion (or kills it after <paramref name="timeout"/> and fails).</summary>
    public static ProcessResult Run(string fileName, IEnumerable<string> args, TimeSpan? timeout = null, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {fileName}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout ?? TimeSpan.FromMinutes(3)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{fileName} {string.Join(' ', args)} did not finish in time");
        }
        p.WaitForExit();
        return new ProcessResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs one of the scripts in tests/OnnxPrune.Tests/Python (copied to the output folder) with
    /// Debian's python3 and its onnx package; fails the test if either is missing.</summary>
    public static ProcessResult RunPython(string script, params string[] args)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Python", script);
        Assert.That(File.Exists(path), Is.True, $"{path} missing from the test output");
        return RunPythonWith([path, .. args]);
    }

    /// <summary>Runs inline Python code (<c>python3 -c CODE ARGS…</c>) with Debian's python3; fails the test if
    /// python3 or the module it imports (onnx, numpy) is missing.</summary>
    public static ProcessResult RunPythonCode(string code, params string[] args) => RunPythonWith(["-c", code, .. args]);

    private static ProcessResult RunPythonWith(string[] args)
    {
        if (!File.Exists(Python)) Assert.Fail($"{Python} is missing; install python3-onnx (tools/test.sh does).");
        var result = Run(Python, args);
        if (result.StdErr.Contains("No module named", StringComparison.Ordinal))
            Assert.Fail($"A Python package is missing; install python3-onnx (tools/test.sh does).\n{result}");
        return result;
    }

    /// <summary>Runs the onnxprune CLI (the built OnnxPrune.Cli.dll) as a child process.</summary>
    public static ProcessResult RunCli(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "OnnxPrune.Cli.dll");
        Assert.That(File.Exists(dll), Is.True, $"{dll} missing from the test output");
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (string.IsNullOrEmpty(host) || !File.Exists(host)) host = "dotnet";
        return Run(host, [dll, .. args]);
    }
}
