using System;

namespace VmaEngine.Vma;

/// <summary>The PROT_* protection bits of mmap and mprotect.</summary>
[Flags]
public enum Prot
{
    /// <summary>PROT_NONE.</summary>
    None = 0,

    /// <summary>PROT_READ.</summary>
    Read = 1,

    /// <summary>PROT_WRITE.</summary>
    Write = 2,

    /// <summary>PROT_EXEC.</summary>
    Exec = 4,

    /// <summary>PROT_GROWSDOWN (mprotect only): extend the change down to the start of a growsdown VMA.</summary>
    GrowsDown = 0x0100_0000,

    /// <summary>PROT_GROWSUP (mprotect only; no x86-64 VMA grows up).</summary>
    GrowsUp = 0x0200_0000,
}
