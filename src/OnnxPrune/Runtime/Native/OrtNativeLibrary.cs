using System.Runtime.InteropServices;

namespace OnnxPrune.Runtime.Native;

/// <summary>
/// Finds and loads the ONNX Runtime shared library. Order: the <c>ONNXPRUNE_ORT_LIBRARY</c> environment variable
/// (path to any libonnxruntime build, e.g. a GPU one), the application folder, then the build's cache folder
/// (<c>.cache/onnxruntime/&lt;version&gt;/&lt;rid&gt;/</c>) found by walking up from the application folder.
/// </summary>
internal static class OrtNativeLibrary
{
    /// <summary>Environment variable naming the library to load instead of the bundled one.</summary>
    public const string EnvironmentVariable = "ONNXPRUNE_ORT_LIBRARY";

    /// <summary>The ONNX Runtime release the build fetches (see build/OnnxRuntimeNative.targets).</summary>
    public const string BundledVersion = "1.30.0";

    private static readonly object Gate = new();
    private static IntPtr _handle;
    private static string? _path;

    /// <summary>The path the library was loaded from (after <see cref="Load"/>).</summary>
    public static string? LoadedPath => _path;

    /// <summary>Loads the library once and returns its handle.</summary>
    /// <exception cref="OnnxRuntimeException">No usable library was found; the message says how to fix it.</exception>
    public static IntPtr Load()
    {
        if (_handle != IntPtr.Zero) return _handle;
        lock (Gate)
        {
            if (_handle != IntPtr.Zero) return _handle;
            var tried = new List<string>();
            var fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(fromEnv))
            {
                if (!NativeLibrary.TryLoad(fromEnv, out var h))
                    throw new OnnxRuntimeException(OrtErrorCode.NoSuchFile,
                        $"{EnvironmentVariable}={fromEnv} does not name a loadable ONNX Runtime library " +
                        "(missing file, wrong architecture, or missing dependencies such as CUDA libraries).");
                return Publish(h, fromEnv);
            }

            var names = LibraryNames();
            var baseDir = AppContext.BaseDirectory;
            foreach (var name in names)
            {
                var candidate = Path.Combine(baseDir, name);
                tried.Add(candidate);
                if (File.Exists(candidate) && NativeLibrary.TryLoad(candidate, out var h)) return Publish(h, candidate);
            }

            var rid = RuntimeIdentifier();
            for (var dir = new DirectoryInfo(baseDir); dir != null; dir = dir.Parent)
            {
                var cacheDir = Path.Combine(dir.FullName, ".cache", "onnxruntime", BundledVersion, rid);
                foreach (var name in names)
                {
                    var candidate = Path.Combine(cacheDir, name);
                    if (File.Exists(candidate))
                    {
                        tried.Add(candidate);
                        if (NativeLibrary.TryLoad(candidate, out var h)) return Publish(h, candidate);
                    }
                }
            }
            tried.Add($"<each parent of {baseDir}>/.cache/onnxruntime/{BundledVersion}/{rid}/");

            throw new OnnxRuntimeException(OrtErrorCode.NoSuchFile,
                $"ONNX Runtime native library ({string.Join(" or ", names)}) not found. Looked in: {string.Join("; ", tried)}. " +
                $"Fix: build the solution with `dotnet build` (it fetches onnxruntime-node@{BundledVersion} with npm into " +
                $".cache/onnxruntime/{BundledVersion}/ and copies the library next to the assemblies; needs Node.js/npm), " +
                $"or set {EnvironmentVariable} to the path of a libonnxruntime shared library.");
        }
    }

    private static IntPtr Publish(IntPtr handle, string path)
    {
        _path = path;
        _handle = handle;
        return handle;
    }

    private static string[] LibraryNames()
    {
        if (OperatingSystem.IsWindows()) return ["onnxruntime.dll"];
        if (OperatingSystem.IsMacOS()) return ["libonnxruntime.1.dylib", "libonnxruntime.dylib"];
        return ["libonnxruntime.so.1", "libonnxruntime.so"];
    }

    private static string RuntimeIdentifier()
    {
        var arch = RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant();
        var os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        return $"{os}-{arch}";
    }
}
