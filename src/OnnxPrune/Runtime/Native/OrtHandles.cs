using System.Runtime.InteropServices;

namespace OnnxPrune.Runtime.Native;

/// <summary>Base of every ORT object handle: released exactly once through its ORT release function.</summary>
internal abstract class OrtHandle : SafeHandle
{
    protected OrtHandle() : base(IntPtr.Zero, ownsHandle: true) { }

    /// <inheritdoc/>
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Takes ownership of a pointer ORT just returned.</summary>
    public void Attach(IntPtr pointer) => SetHandle(pointer);
}

/// <summary>An <c>OrtEnv*</c>.</summary>
internal sealed class OrtEnvHandle : OrtHandle
{
    protected override unsafe bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseEnv(handle);
        return true;
    }
}

/// <summary>An <c>OrtSessionOptions*</c>.</summary>
internal sealed class OrtSessionOptionsHandle : OrtHandle
{
    protected override unsafe bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseSessionOptions(handle);
        return true;
    }
}

/// <summary>
/// An <c>OrtSession*</c>. Holds a reference on the environment handle so the environment is released only after
/// the last session, whatever order the managed owners are disposed in. Also owns the UTF-8 input/output names
/// used in Run calls, so they live exactly as long as the session.
/// </summary>
internal sealed class OrtSessionHandle : OrtHandle
{
    private OrtEnvHandle? _env;
    private bool _envAddRefed;

    /// <summary>Native UTF-8 copies of the input names (freed with the session).</summary>
    public IntPtr[] InputNames { get; set; } = [];

    /// <summary>Native UTF-8 copies of the output names (freed with the session).</summary>
    public IntPtr[] OutputNames { get; set; } = [];

    /// <summary>Keeps <paramref name="env"/> alive until this session is released.</summary>
    public void HoldEnvironment(OrtEnvHandle env)
    {
        env.DangerousAddRef(ref _envAddRefed);
        _env = env;
    }

    protected override unsafe bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseSession(handle);
        FreeNames();
        if (_envAddRefed) _env!.DangerousRelease();
        return true;
    }

    /// <summary>Frees the native name copies (also called when construction fails before a session exists).</summary>
    public void FreeNames()
    {
        foreach (var p in InputNames) Marshal.FreeCoTaskMem(p);
        foreach (var p in OutputNames) Marshal.FreeCoTaskMem(p);
        InputNames = [];
        OutputNames = [];
    }
}

/// <summary>An <c>OrtValue*</c>.</summary>
internal sealed class OrtValueHandle : OrtHandle
{
    protected override unsafe bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseValue(handle);
        return true;
    }
}

/// <summary>An <c>OrtTypeInfo*</c>.</summary>
internal sealed class OrtTypeInfoHandle : OrtHandle
{
    protected override unsafe bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseTypeInfo(handle);
        return true;
    }
}

/// <summary>An <c>OrtTensorTypeAndShapeInfo*</c> that we own (from GetTensorTypeAndShape).</summary>
internal sealed class OrtTensorTypeAndShapeInfoHandle : OrtHandle
{
    protected override unsafe bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseTensorTypeAndShapeInfo(handle);
        return true;
    }
}

/// <summary>An <c>OrtCUDAProviderOptionsV2*</c>.</summary>
internal sealed class OrtCudaProviderOptionsHandle : OrtHandle
{
    protected override unsafe bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseCUDAProviderOptions(handle);
        return true;
    }
}
