using System;

namespace Replay.Trace;

/// <summary>A trace line is malformed; the message names the line and what is wrong with it.</summary>
public sealed class TraceFormatException : Exception
{
    public TraceFormatException(int line, string problem)
        : base($"line {line}: {problem}")
    {
        Line = line;
    }

    /// <summary>The 1-based number of the malformed line.</summary>
    public int Line { get; }
}
