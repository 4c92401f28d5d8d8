using System.Collections.Concurrent;
using System.Diagnostics;

namespace Tests.Slab;

/// <summary>A trace listener that keeps every message written to it, for tests of <see cref="Trace"/> reports.</summary>
public sealed class RecordingTraceListener : TraceListener
{
    /// <summary>The messages received, in order.</summary>
    public ConcurrentQueue<string> Messages { get; } = new();

    /// <inheritdoc/>
    public override void Write(string? message) => Messages.Enqueue(message ?? "");

    /// <inheritdoc/>
    public override void WriteLine(string? message) => Messages.Enqueue(message ?? "");
}
