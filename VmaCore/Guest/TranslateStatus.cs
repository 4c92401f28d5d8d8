namespace VmaEngine.Vma.Guest;

/// <summary>What <see cref="GuestMemory.Translate"/> found: a host address, or why the host must call <see cref="GuestMemory.Fault"/>.</summary>
public enum TranslateStatus
{
    /// <summary>The access is allowed without a fault; the host address is valid until the next operation on the page.</summary>
    Ok,

    /// <summary>No VMA covers the address (the kernel's <c>SEGV_MAPERR</c> unless a stack can grow there).</summary>
    Unmapped,

    /// <summary>
    /// No VMA covers the address, but a stack VMA (<c>VM_GROWSDOWN</c>) lies above it: <see cref="GuestMemory.Fault"/>
    /// grows the stack down to it or refuses it (the stack guard gap, <c>RLIMIT_STACK</c>).
    /// </summary>
    GuardGap,

    /// <summary>The VMA does not allow the access (the kernel's <c>SEGV_ACCERR</c>).</summary>
    NotPermitted,

    /// <summary>
    /// The VMA allows the access but has no anon_vma yet: the first write to a private VMA (and, on a profile without
    /// the zero page, the first access to private anonymous memory) must go through <see cref="GuestMemory.Fault"/>,
    /// which gives the VMA its anon_vma and opens it in the table.
    /// </summary>
    FirstWrite,
}
