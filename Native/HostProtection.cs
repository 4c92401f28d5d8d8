using System;

namespace VmaEngine.Native;

/// <summary>
/// The host protection of a range of <see cref="HostMapping"/> pages, with the bit values of the Unix
/// <c>PROT_*</c> constants.
/// </summary>
[Flags]
public enum HostProtection
{
    /// <summary>No access (<c>PROT_NONE</c>).</summary>
    None = 0,

    /// <summary>Loads (<c>PROT_READ</c>).</summary>
    Read = 1,

    /// <summary>Stores (<c>PROT_WRITE</c>).</summary>
    Write = 2,

    /// <summary>Instruction fetches (<c>PROT_EXEC</c>).</summary>
    Execute = 4,
}
