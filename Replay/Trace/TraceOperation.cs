using VmaEngine.Vma;

namespace Replay.Trace;

/// <summary>
/// One parsed line of a trace. Addresses and lengths are in pages relative to the window's base.
/// Only the members of the operation's kind are meaningful.
/// </summary>
/// <param name="Kind">The operation.</param>
/// <param name="Line">The 1-based line number in the trace.</param>
/// <param name="Address">ADDR, or OLDADDR for mremap.</param>
/// <param name="Length">LEN, or OLDLEN for mremap.</param>
public sealed record TraceOperation(TraceOpKind Kind, int Line, ulong Address, ulong Length)
{
    /// <summary>PROT of mmap and mprotect.</summary>
    public Prot Prot { get; init; }

    /// <summary>The mmap flags other than MAP_FIXED and the sharing type.</summary>
    public MapFlags MapFlags { get; init; }

    /// <summary>The file NAME of <c>file=NAME:PGOFF</c>, or null for an anonymous mapping.</summary>
    public string? FileName { get; init; }

    /// <summary>The PGOFF of <c>file=NAME:PGOFF</c>.</summary>
    public ulong FilePageOffset { get; init; }

    /// <summary>The advice of madvise.</summary>
    public Advice Advice { get; init; }

    /// <summary>The NAME of <c>name</c>, or null for <c>-</c> (clear the name).</summary>
    public string? AnonName { get; init; }

    /// <summary>The flags of mlock (<c>onfault</c>: mlock2 with MLOCK_ONFAULT).</summary>
    public MlockFlags MlockFlags { get; init; }

    /// <summary>The flags of mlockall.</summary>
    public MlockallFlags MlockallFlags { get; init; }

    /// <summary>The mremap flags besides MREMAP_MAYMOVE and MREMAP_FIXED (<c>dontunmap</c>).</summary>
    public MremapFlags MremapFlags { get; init; }

    /// <summary>NEWLEN of mremap.</summary>
    public ulong NewLength { get; init; }

    /// <summary>NEWADDR of mremap, or null to resize in place.</summary>
    public ulong? NewAddress { get; init; }

    /// <summary>The keyword of the operation, as error lines print it.</summary>
    public string Keyword => TraceParser.Keyword(Kind);
}
