namespace Replay.Trace;

/// <summary>The operations of a vmatrace v1 line; the names are the trace keywords.</summary>
public enum TraceOpKind
{
    Mmap,
    Munmap,
    Mprotect,
    Madvise,
    Mlock,
    Munlock,
    Name,
    Touch,
    Mremap,
    Maps,
    Seal,
    Mlockall,
    Munlockall,
    Fork,
}
