using System;

namespace VmaEngine.Vma;

/// <summary>The MREMAP_* flags, with Linux values.</summary>
[Flags]
public enum MremapFlags
{
    /// <summary>Resize in place only.</summary>
    None = 0,

    /// <summary>MREMAP_MAYMOVE: the mapping may move when it cannot grow in place.</summary>
    MayMove = 1,

    /// <summary>MREMAP_FIXED: move to the given new address, replacing what is there (needs MREMAP_MAYMOVE).</summary>
    Fixed = 2,

    /// <summary>
    /// MREMAP_DONTUNMAP: move the pages but leave the old range mapped and empty (needs MREMAP_MAYMOVE and equal
    /// lengths; not for VM_DONTEXPAND or VM_PFNMAP mappings).
    /// </summary>
    DontUnmap = 4,
}
