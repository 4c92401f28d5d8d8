using System;

namespace VmaCore;

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
}
