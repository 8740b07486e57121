using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;
using OnnxPrune.Runtime;

namespace OnnxPrune.Cli;

/// <summary><c>onnxprune --version</c>: OnnxPrune's version and the loaded ONNX Runtime's version and providers.</summary>
internal sealed class VersionAction : SynchronousCommandLineAction
{
    /// <summary>Replaces the root command's built-in version action.</summary>
    public static void Install(RootCommand root)
    {
        foreach (var option in root.Options)
            if (option is VersionOption version) version.Action = new VersionAction();
    }

    public override int Invoke(ParseResult parseResult)
    {
        var output = parseResult.InvocationConfiguration.Output;
        output.WriteLine($"onnxprune {Version(typeof(VersionAction).Assembly)} (OnnxPrune library {Version(typeof(OnnxPruneException).Assembly)})");
        output.WriteLine($"ONNX Runtime {OrtSessions.RuntimeVersion} (managed API {Version(typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly)}; " +
                         $"providers: {string.Join(", ", OrtSessions.AvailableProviders)})");
        return ExitCodes.Ok;
    }

    private static string Version(Assembly assembly)
    {
        var informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (string.IsNullOrEmpty(informational)) return assembly.GetName().Version?.ToString() ?? "?";
        int plus = informational.IndexOf('+');
        return plus < 0 ? informational : informational[..plus];
    }
}
