using System;

namespace VmaEngine.Vma;

/// <summary>The flags of mlockall, with Linux values.</summary>
[Flags]
public enum MlockallFlags
{
    /// <summary>No flag (EINVAL for mlockall).</summary>
    None = 0,

    /// <summary>MCL_CURRENT: lock every mapping there is now.</summary>
    Current = 1,

    /// <summary>MCL_FUTURE: lock every mapping made later (the mm's <c>def_flags</c> get VM_LOCKED).</summary>
    Future = 2,

    /// <summary>MCL_ONFAULT: with the others, lock pages only as they are faulted in (VM_LOCKONFAULT).</summary>
    OnFault = 4,
}
