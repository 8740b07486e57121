using System.Runtime.InteropServices;

namespace OnnxPrune.Runtime.Native;

/// <summary>
/// The part of ONNX Runtime's C function table (<c>struct OrtApi</c> in onnxruntime_c_api.h) that OnnxPrune uses,
/// read once as <c>delegate* unmanaged</c> function pointers from their slot in the table.
/// </summary>
/// <remarks>
/// The table is append-only across ORT releases, so a slot index never changes. Each field below names its
/// slot and the C signature. Slots were counted against the header of API version 13 (the version requested
/// here, <see cref="ApiVersion"/>) and checked at run time by tests (GetVersionString, environment and session
/// creation, tensor round trips, error statuses, provider list).
/// All pointers to ORT objects are passed as <see cref="IntPtr"/>; <c>size_t</c> is <see cref="nuint"/>.
/// </remarks>
internal sealed unsafe class OrtApi
{
    /// <summary>The C API version this binding was written against (ORT_API_VERSION of the header used).</summary>
    public const uint ApiVersion = 13;

    private static readonly Lazy<OrtApi> LazyInstance = new(() => new OrtApi(), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The process-wide table (loads the native library on first use).</summary>
    public static OrtApi Instance => LazyInstance.Value;

    /// <summary>The loaded library's version string, e.g. "1.30.0" (OrtApiBase::GetVersionString).</summary>
    public string VersionString { get; }

    // ---- OrtStatus ----
    /// <summary>[1] OrtErrorCode GetErrorCode(const OrtStatus* status)</summary>
    public readonly delegate* unmanaged<IntPtr, int> GetErrorCode;
    /// <summary>[2] const char* GetErrorMessage(const OrtStatus* status)</summary>
    public readonly delegate* unmanaged<IntPtr, byte*> GetErrorMessage;
    // ---- OrtEnv ----
    /// <summary>[3] OrtStatus* CreateEnv(OrtLoggingLevel log_severity_level, const char* logid, OrtEnv** out)</summary>
    public readonly delegate* unmanaged<int, byte*, IntPtr*, IntPtr> CreateEnv;
    // ---- OrtSession ----
    /// <summary>[7] OrtStatus* CreateSession(const OrtEnv* env, const ORTCHAR_T* model_path, const OrtSessionOptions* options, OrtSession** out)</summary>
    public readonly delegate* unmanaged<IntPtr, void*, IntPtr, IntPtr*, IntPtr> CreateSession;
    /// <summary>[8] OrtStatus* CreateSessionFromArray(const OrtEnv* env, const void* model_data, size_t model_data_length, const OrtSessionOptions* options, OrtSession** out)</summary>
    public readonly delegate* unmanaged<IntPtr, void*, nuint, IntPtr, IntPtr*, IntPtr> CreateSessionFromArray;
    /// <summary>[9] OrtStatus* Run(OrtSession* session, const OrtRunOptions* run_options, const char* const* input_names, const OrtValue* const* inputs, size_t input_len, const char* const* output_names, size_t output_names_len, OrtValue** outputs)</summary>
    public readonly delegate* unmanaged<IntPtr, IntPtr, IntPtr*, IntPtr*, nuint, IntPtr*, nuint, IntPtr*, IntPtr> Run;
    // ---- OrtSessionOptions ----
    /// <summary>[10] OrtStatus* CreateSessionOptions(OrtSessionOptions** options)</summary>
    public readonly delegate* unmanaged<IntPtr*, IntPtr> CreateSessionOptions;
    /// <summary>[13] OrtStatus* SetSessionExecutionMode(OrtSessionOptions* options, ExecutionMode execution_mode)</summary>
    public readonly delegate* unmanaged<IntPtr, int, IntPtr> SetSessionExecutionMode;
    /// <summary>[14] OrtStatus* EnableProfiling(OrtSessionOptions* options, const ORTCHAR_T* profile_file_prefix)</summary>
    public readonly delegate* unmanaged<IntPtr, void*, IntPtr> EnableProfiling;
    /// <summary>[22] OrtStatus* SetSessionLogSeverityLevel(OrtSessionOptions* options, int session_log_severity_level)</summary>
    public readonly delegate* unmanaged<IntPtr, int, IntPtr> SetSessionLogSeverityLevel;
    /// <summary>[23] OrtStatus* SetSessionGraphOptimizationLevel(OrtSessionOptions* options, GraphOptimizationLevel graph_optimization_level)</summary>
    public readonly delegate* unmanaged<IntPtr, int, IntPtr> SetSessionGraphOptimizationLevel;
    /// <summary>[24] OrtStatus* SetIntraOpNumThreads(OrtSessionOptions* options, int intra_op_num_threads)</summary>
    public readonly delegate* unmanaged<IntPtr, int, IntPtr> SetIntraOpNumThreads;
    /// <summary>[25] OrtStatus* SetInterOpNumThreads(OrtSessionOptions* options, int inter_op_num_threads)</summary>
    public readonly delegate* unmanaged<IntPtr, int, IntPtr> SetInterOpNumThreads;
    // ---- OrtSession metadata ----
    /// <summary>[30] OrtStatus* SessionGetInputCount(const OrtSession* session, size_t* out)</summary>
    public readonly delegate* unmanaged<IntPtr, nuint*, IntPtr> SessionGetInputCount;
    /// <summary>[31] OrtStatus* SessionGetOutputCount(const OrtSession* session, size_t* out)</summary>
    public readonly delegate* unmanaged<IntPtr, nuint*, IntPtr> SessionGetOutputCount;
    /// <summary>[33] OrtStatus* SessionGetInputTypeInfo(const OrtSession* session, size_t index, OrtTypeInfo** type_info)</summary>
    public readonly delegate* unmanaged<IntPtr, nuint, IntPtr*, IntPtr> SessionGetInputTypeInfo;
    /// <summary>[34] OrtStatus* SessionGetOutputTypeInfo(const OrtSession* session, size_t index, OrtTypeInfo** type_info)</summary>
    public readonly delegate* unmanaged<IntPtr, nuint, IntPtr*, IntPtr> SessionGetOutputTypeInfo;
    /// <summary>[36] OrtStatus* SessionGetInputName(const OrtSession* session, size_t index, OrtAllocator* allocator, char** value)</summary>
    public readonly delegate* unmanaged<IntPtr, nuint, IntPtr, byte**, IntPtr> SessionGetInputName;
    /// <summary>[37] OrtStatus* SessionGetOutputName(const OrtSession* session, size_t index, OrtAllocator* allocator, char** value)</summary>
    public readonly delegate* unmanaged<IntPtr, nuint, IntPtr, byte**, IntPtr> SessionGetOutputName;
    // ---- OrtValue ----
    /// <summary>[49] OrtStatus* CreateTensorWithDataAsOrtValue(const OrtMemoryInfo* info, void* p_data, size_t p_data_len, const int64_t* shape, size_t shape_len, ONNXTensorElementDataType type, OrtValue** out)</summary>
    public readonly delegate* unmanaged<IntPtr, void*, nuint, long*, nuint, int, IntPtr*, IntPtr> CreateTensorWithDataAsOrtValue;
    /// <summary>[51] OrtStatus* GetTensorMutableData(OrtValue* value, void** out)</summary>
    public readonly delegate* unmanaged<IntPtr, void**, IntPtr> GetTensorMutableData;
    // ---- OrtTypeInfo ----
    /// <summary>[55] OrtStatus* CastTypeInfoToTensorInfo(const OrtTypeInfo* type_info, const OrtTensorTypeAndShapeInfo** out)</summary>
    public readonly delegate* unmanaged<IntPtr, IntPtr*, IntPtr> CastTypeInfoToTensorInfo;
    /// <summary>[56] OrtStatus* GetOnnxTypeFromTypeInfo(const OrtTypeInfo* type_info, enum ONNXType* out)</summary>
    public readonly delegate* unmanaged<IntPtr, int*, IntPtr> GetOnnxTypeFromTypeInfo;
    // ---- OrtTensorTypeAndShapeInfo ----
    /// <summary>[60] OrtStatus* GetTensorElementType(const OrtTensorTypeAndShapeInfo* info, enum ONNXTensorElementDataType* out)</summary>
    public readonly delegate* unmanaged<IntPtr, int*, IntPtr> GetTensorElementType;
    /// <summary>[61] OrtStatus* GetDimensionsCount(const OrtTensorTypeAndShapeInfo* info, size_t* out)</summary>
    public readonly delegate* unmanaged<IntPtr, nuint*, IntPtr> GetDimensionsCount;
    /// <summary>[62] OrtStatus* GetDimensions(const OrtTensorTypeAndShapeInfo* info, int64_t* dim_values, size_t dim_values_length)</summary>
    public readonly delegate* unmanaged<IntPtr, long*, nuint, IntPtr> GetDimensions;
    /// <summary>[63] OrtStatus* GetSymbolicDimensions(const OrtTensorTypeAndShapeInfo* info, const char* dim_params[], size_t dim_params_length)</summary>
    public readonly delegate* unmanaged<IntPtr, byte**, nuint, IntPtr> GetSymbolicDimensions;
    /// <summary>[65] OrtStatus* GetTensorTypeAndShape(const OrtValue* value, OrtTensorTypeAndShapeInfo** out)</summary>
    public readonly delegate* unmanaged<IntPtr, IntPtr*, IntPtr> GetTensorTypeAndShape;
    /// <summary>[67] OrtStatus* GetValueType(const OrtValue* value, enum ONNXType* out)</summary>
    public readonly delegate* unmanaged<IntPtr, int*, IntPtr> GetValueType;
    // ---- OrtMemoryInfo / OrtAllocator ----
    /// <summary>[69] OrtStatus* CreateCpuMemoryInfo(enum OrtAllocatorType type, enum OrtMemType mem_type, OrtMemoryInfo** out)</summary>
    public readonly delegate* unmanaged<int, int, IntPtr*, IntPtr> CreateCpuMemoryInfo;
    /// <summary>[76] OrtStatus* AllocatorFree(OrtAllocator* ort_allocator, void* p)</summary>
    public readonly delegate* unmanaged<IntPtr, void*, IntPtr> AllocatorFree;
    /// <summary>[78] OrtStatus* GetAllocatorWithDefaultOptions(OrtAllocator** out)</summary>
    public readonly delegate* unmanaged<IntPtr*, IntPtr> GetAllocatorWithDefaultOptions;
    // ---- Release functions ----
    /// <summary>[92] void ReleaseEnv(OrtEnv* input)</summary>
    public readonly delegate* unmanaged<IntPtr, void> ReleaseEnv;
    /// <summary>[93] void ReleaseStatus(OrtStatus* input)</summary>
    public readonly delegate* unmanaged<IntPtr, void> ReleaseStatus;
    /// <summary>[94] void ReleaseMemoryInfo(OrtMemoryInfo* input)</summary>
    public readonly delegate* unmanaged<IntPtr, void> ReleaseMemoryInfo;
    /// <summary>[95] void ReleaseSession(OrtSession* input)</summary>
    public readonly delegate* unmanaged<IntPtr, void> ReleaseSession;
    /// <summary>[96] void ReleaseValue(OrtValue* input)</summary>
    public readonly delegate* unmanaged<IntPtr, void> ReleaseValue;
    /// <summary>[98] void ReleaseTypeInfo(OrtTypeInfo* input)</summary>
    public readonly delegate* unmanaged<IntPtr, void> ReleaseTypeInfo;
    /// <summary>[99] void ReleaseTensorTypeAndShapeInfo(OrtTensorTypeAndShapeInfo* input)</summary>
    public readonly delegate* unmanaged<IntPtr, void> ReleaseTensorTypeAndShapeInfo;
    /// <summary>[100] void ReleaseSessionOptions(OrtSessionOptions* input)</summary>
    public readonly delegate* unmanaged<IntPtr, void> ReleaseSessionOptions;
    // ---- Profiling ----
    /// <summary>[110] OrtStatus* SessionEndProfiling(OrtSession* session, OrtAllocator* allocator, char** out)</summary>
    public readonly delegate* unmanaged<IntPtr, IntPtr, byte**, IntPtr> SessionEndProfiling;
    // ---- Misc ----
    /// <summary>[124] OrtStatus* AddFreeDimensionOverrideByName(OrtSessionOptions* options, const char* dim_name, int64_t dim_value)</summary>
    public readonly delegate* unmanaged<IntPtr, byte*, long, IntPtr> AddFreeDimensionOverrideByName;
    /// <summary>[125] OrtStatus* GetAvailableProviders(char*** out_ptr, int* provider_length)</summary>
    public readonly delegate* unmanaged<byte***, int*, IntPtr> GetAvailableProviders;
    /// <summary>[126] OrtStatus* ReleaseAvailableProviders(char** ptr, int providers_length)</summary>
    public readonly delegate* unmanaged<byte**, int, IntPtr> ReleaseAvailableProviders;
    /// <summary>[130] OrtStatus* AddSessionConfigEntry(OrtSessionOptions* options, const char* config_key, const char* config_value)</summary>
    public readonly delegate* unmanaged<IntPtr, byte*, byte*, IntPtr> AddSessionConfigEntry;
    // ---- CUDA execution provider (since API 11) ----
    /// <summary>[204] OrtStatus* SessionOptionsAppendExecutionProvider_CUDA_V2(OrtSessionOptions* options, const OrtCUDAProviderOptionsV2* cuda_options)</summary>
    public readonly delegate* unmanaged<IntPtr, IntPtr, IntPtr> SessionOptionsAppendExecutionProvider_CUDA_V2;
    /// <summary>[205] OrtStatus* CreateCUDAProviderOptions(OrtCUDAProviderOptionsV2** out)</summary>
    public readonly delegate* unmanaged<IntPtr*, IntPtr> CreateCUDAProviderOptions;
    /// <summary>[206] OrtStatus* UpdateCUDAProviderOptions(OrtCUDAProviderOptionsV2* cuda_options, const char* const* provider_options_keys, const char* const* provider_options_values, size_t num_keys)</summary>
    public readonly delegate* unmanaged<IntPtr, byte**, byte**, nuint, IntPtr> UpdateCUDAProviderOptions;
    /// <summary>[208] void ReleaseCUDAProviderOptions(OrtCUDAProviderOptionsV2* input)</summary>
    public readonly delegate* unmanaged<IntPtr, void> ReleaseCUDAProviderOptions;

    /// <summary>Layout of <c>struct OrtApiBase</c>: two function pointers.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct OrtApiBase
    {
        public delegate* unmanaged<uint, IntPtr> GetApi;        // const OrtApi* GetApi(uint32_t version)
        public delegate* unmanaged<byte*> GetVersionString;     // const char* GetVersionString(void)
    }

    private OrtApi()
    {
        var library = OrtNativeLibrary.Load();
        if (!NativeLibrary.TryGetExport(library, "OrtGetApiBase", out var getApiBaseExport))
            throw new OnnxRuntimeException(OrtErrorCode.Fail,
                $"{OrtNativeLibrary.LoadedPath} is not an ONNX Runtime library (no OrtGetApiBase export).");
        var getApiBase = (delegate* unmanaged<OrtApiBase*>)getApiBaseExport;
        OrtApiBase* apiBase = getApiBase();
        VersionString = Marshal.PtrToStringUTF8((IntPtr)apiBase->GetVersionString()) ?? "?";
        var table = (void**)apiBase->GetApi(ApiVersion);
        if (table == null)
            throw new OnnxRuntimeException(OrtErrorCode.Fail,
                $"ONNX Runtime {VersionString} at {OrtNativeLibrary.LoadedPath} does not provide C API version {ApiVersion}.");

        GetErrorCode = (delegate* unmanaged<IntPtr, int>)table[1];
        GetErrorMessage = (delegate* unmanaged<IntPtr, byte*>)table[2];
        CreateEnv = (delegate* unmanaged<int, byte*, IntPtr*, IntPtr>)table[3];
        CreateSession = (delegate* unmanaged<IntPtr, void*, IntPtr, IntPtr*, IntPtr>)table[7];
        CreateSessionFromArray = (delegate* unmanaged<IntPtr, void*, nuint, IntPtr, IntPtr*, IntPtr>)table[8];
        Run = (delegate* unmanaged<IntPtr, IntPtr, IntPtr*, IntPtr*, nuint, IntPtr*, nuint, IntPtr*, IntPtr>)table[9];
        CreateSessionOptions = (delegate* unmanaged<IntPtr*, IntPtr>)table[10];
        SetSessionExecutionMode = (delegate* unmanaged<IntPtr, int, IntPtr>)table[13];
        EnableProfiling = (delegate* unmanaged<IntPtr, void*, IntPtr>)table[14];
        SetSessionLogSeverityLevel = (delegate* unmanaged<IntPtr, int, IntPtr>)table[22];
        SetSessionGraphOptimizationLevel = (delegate* unmanaged<IntPtr, int, IntPtr>)table[23];
        SetIntraOpNumThreads = (delegate* unmanaged<IntPtr, int, IntPtr>)table[24];
        SetInterOpNumThreads = (delegate* unmanaged<IntPtr, int, IntPtr>)table[25];
        SessionGetInputCount = (delegate* unmanaged<IntPtr, nuint*, IntPtr>)table[30];
        SessionGetOutputCount = (delegate* unmanaged<IntPtr, nuint*, IntPtr>)table[31];
        SessionGetInputTypeInfo = (delegate* unmanaged<IntPtr, nuint, IntPtr*, IntPtr>)table[33];
        SessionGetOutputTypeInfo = (delegate* unmanaged<IntPtr, nuint, IntPtr*, IntPtr>)table[34];
        SessionGetInputName = (delegate* unmanaged<IntPtr, nuint, IntPtr, byte**, IntPtr>)table[36];
        SessionGetOutputName = (delegate* unmanaged<IntPtr, nuint, IntPtr, byte**, IntPtr>)table[37];
        CreateTensorWithDataAsOrtValue = (delegate* unmanaged<IntPtr, void*, nuint, long*, nuint, int, IntPtr*, IntPtr>)table[49];
        GetTensorMutableData = (delegate* unmanaged<IntPtr, void**, IntPtr>)table[51];
        CastTypeInfoToTensorInfo = (delegate* unmanaged<IntPtr, IntPtr*, IntPtr>)table[55];
        GetOnnxTypeFromTypeInfo = (delegate* unmanaged<IntPtr, int*, IntPtr>)table[56];
        GetTensorElementType = (delegate* unmanaged<IntPtr, int*, IntPtr>)table[60];
        GetDimensionsCount = (delegate* unmanaged<IntPtr, nuint*, IntPtr>)table[61];
        GetDimensions = (delegate* unmanaged<IntPtr, long*, nuint, IntPtr>)table[62];
        GetSymbolicDimensions = (delegate* unmanaged<IntPtr, byte**, nuint, IntPtr>)table[63];
        GetTensorTypeAndShape = (delegate* unmanaged<IntPtr, IntPtr*, IntPtr>)table[65];
        GetValueType = (delegate* unmanaged<IntPtr, int*, IntPtr>)table[67];
        CreateCpuMemoryInfo = (delegate* unmanaged<int, int, IntPtr*, IntPtr>)table[69];
        AllocatorFree = (delegate* unmanaged<IntPtr, void*, IntPtr>)table[76];
        GetAllocatorWithDefaultOptions = (delegate* unmanaged<IntPtr*, IntPtr>)table[78];
        ReleaseEnv = (delegate* unmanaged<IntPtr, void>)table[92];
        ReleaseStatus = (delegate* unmanaged<IntPtr, void>)table[93];
        ReleaseMemoryInfo = (delegate* unmanaged<IntPtr, void>)table[94];
        ReleaseSession = (delegate* unmanaged<IntPtr, void>)table[95];
        ReleaseValue = (delegate* unmanaged<IntPtr, void>)table[96];
        ReleaseTypeInfo = (delegate* unmanaged<IntPtr, void>)table[98];
        ReleaseTensorTypeAndShapeInfo = (delegate* unmanaged<IntPtr, void>)table[99];
        ReleaseSessionOptions = (delegate* unmanaged<IntPtr, void>)table[100];
        SessionEndProfiling = (delegate* unmanaged<IntPtr, IntPtr, byte**, IntPtr>)table[110];
        AddFreeDimensionOverrideByName = (delegate* unmanaged<IntPtr, byte*, long, IntPtr>)table[124];
        GetAvailableProviders = (delegate* unmanaged<byte***, int*, IntPtr>)table[125];
        ReleaseAvailableProviders = (delegate* unmanaged<byte**, int, IntPtr>)table[126];
        AddSessionConfigEntry = (delegate* unmanaged<IntPtr, byte*, byte*, IntPtr>)table[130];
        SessionOptionsAppendExecutionProvider_CUDA_V2 = (delegate* unmanaged<IntPtr, IntPtr, IntPtr>)table[204];
        CreateCUDAProviderOptions = (delegate* unmanaged<IntPtr*, IntPtr>)table[205];
        UpdateCUDAProviderOptions = (delegate* unmanaged<IntPtr, byte**, byte**, nuint, IntPtr>)table[206];
        ReleaseCUDAProviderOptions = (delegate* unmanaged<IntPtr, void>)table[208];

        IntPtr allocator;
        OrtStatus.Check(this, GetAllocatorWithDefaultOptions(&allocator));
        DefaultAllocator = allocator;
        IntPtr memoryInfo;
        OrtStatus.Check(this, CreateCpuMemoryInfo(1 /* OrtArenaAllocator */, 0 /* OrtMemTypeDefault */, &memoryInfo));
        CpuMemoryInfo = memoryInfo; // process lifetime: never released
    }

    /// <summary>ORT's default CPU allocator (owned by ORT, never freed).</summary>
    public IntPtr DefaultAllocator { get; }

    /// <summary>Memory info describing plain CPU memory, used for tensors over managed buffers (process lifetime).</summary>
    public IntPtr CpuMemoryInfo { get; }

    /// <summary>The execution providers compiled into the loaded library, e.g. "CPUExecutionProvider".</summary>
    public IReadOnlyList<string> AvailableProviders()
    {
        byte** names;
        int count;
        OrtStatus.Check(GetAvailableProviders(&names, &count));
        try
        {
            var result = new string[count];
            for (int i = 0; i < count; i++) result[i] = Marshal.PtrToStringUTF8((IntPtr)names[i]) ?? "";
            return result;
        }
        finally
        {
            OrtStatus.Check(ReleaseAvailableProviders(names, count));
        }
    }

    /// <summary>Copies a UTF-8 string allocated by ORT's default allocator and frees it.</summary>
    public string TakeAllocatedString(byte* text)
    {
        try { return Marshal.PtrToStringUTF8((IntPtr)text) ?? ""; }
        finally { if (text != null) OrtStatus.Check(AllocatorFree(DefaultAllocator, text)); }
    }
}
