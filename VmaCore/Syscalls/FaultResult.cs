namespace VmaEngine.Vma;

/// <summary>The outcome of <see cref="AddressSpace.Fault"/>: what the guest sees.</summary>
public enum FaultResult
{
    /// <summary>The fault was handled; the access may be retried.</summary>
    Ok,

    /// <summary>SIGSEGV with SEGV_MAPERR: nothing is mapped there and no stack can grow to cover it.</summary>
    SegvMapErr,

    /// <summary>SIGSEGV with SEGV_ACCERR: the VMA does not allow the access.</summary>
    SegvAccErr,

    /// <summary>SIGBUS: the page lies beyond the end of the mapped file.</summary>
    SigBus,

    /// <summary>VM_FAULT_OOM: a structure the fault needed (an anon_vma) could not be allocated.</summary>
    OutOfMemory,
}
