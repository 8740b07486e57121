namespace OnnxPrune;

/// <summary>
/// An <see cref="IProgress{T}"/> that calls its action on the reporting thread, at once and in order.
/// <see cref="Progress{T}"/> posts each report to the captured synchronization context or the thread pool, so reports
/// can arrive late, out of order, or after the work returned; the library's long operations use this to forward their
/// inner stages' progress, and a caller can pass it to read every report as it happens.
/// </summary>
/// <typeparam name="T">The progress report.</typeparam>
/// <param name="report">Called with each report, on the reporting thread.</param>
public sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    private readonly Action<T> _report = report ?? throw new ArgumentNullException(nameof(report));

    /// <inheritdoc/>
    public void Report(T value) => _report(value);
}
