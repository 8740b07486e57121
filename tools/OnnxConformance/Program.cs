using OnnxPrune.Runtime;
using OnnxPrune.Runtime.Conformance;

// Usage: OnnxConformance DIR [--verbose]
// Runs every case folder (model.onnx + test_data_set_N) under DIR, prints failures and skips with their reason,
// and ends with "conformance: P passed, F failed, S skipped". Exit code 1 when any case failed.
if (args.Length < 1 || args[0].StartsWith('-'))
{
    Console.Error.WriteLine("usage: OnnxConformance DIR [--verbose]   (e.g. /usr/share/libonnx-testdata/data)");
    return 2;
}
var root = args[0];
bool verbose = args.Contains("--verbose");
if (!Directory.Exists(root))
{
    Console.Error.WriteLine($"conformance data folder not found: {root} (Debian/Ubuntu: apt-get install libonnx-testdata)");
    return 2;
}
Console.WriteLine($"ONNX Runtime {OrtSessions.RuntimeVersion} (NuGet native package; providers: {string.Join(", ", OrtSessions.AvailableProviders)})");
var summary = new ConformanceRunner().RunAll(root, r =>
{
    if (r.Status == ConformanceStatus.Failed) Console.WriteLine($"FAILED  {r.Name}: {r.Reason}");
    else if (r.Status == ConformanceStatus.Skipped) Console.WriteLine($"SKIPPED {r.Name}: {r.Reason}");
    else if (verbose) Console.WriteLine($"passed  {r.Name}");
});
Console.WriteLine(summary);
return summary.Failed == 0 ? 0 : 1;
