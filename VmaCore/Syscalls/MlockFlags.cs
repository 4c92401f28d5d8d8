using System;

namespace VmaEngine.Vma;

/// <summary>The flags of mlock2, with Linux values.</summary>
[Flags]
public enum MlockFlags
{
    /// <summary>Lock and fault in every page now (as mlock).</summary>
    None = 0,

    /// <summary>MLOCK_ONFAULT: lock pages as they are faulted in (VM_LOCKONFAULT, <c>lf</c>); nothing is populated.</summary>
    OnFault = 1,
}
