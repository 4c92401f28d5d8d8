namespace VmaEngine.Vma;

/// <summary>
/// How the mm system calls derive <c>vm_flags</c> (Linux v6.15 <c>include/linux/mman.h</c>, <c>mm/mmap.c</c>): the
/// translations of PROT_* and MAP_* bits, and the predicates the syscalls test.
/// </summary>
internal static class VmFlagBits
{
    /// <summary>VM_ACCESS_FLAGS: the access bits mprotect replaces.</summary>
    public const VmFlags Access = VmFlags.Read | VmFlags.Write | VmFlags.Exec;

    /// <summary>VM_LOCKED_MASK: the bits mlock and munlock replace.</summary>
    public const VmFlags LockedMask = VmFlags.Locked | VmFlags.LockOnFault;

    /// <summary>The VM_MAY* bits every mapping starts with (<c>do_mmap</c>).</summary>
    public const VmFlags MayAll = VmFlags.MayRead | VmFlags.MayWrite | VmFlags.MayExec;

    /// <summary><c>calc_vm_prot_bits</c>: PROT_READ/WRITE/EXEC to VM_READ/WRITE/EXEC (other bits are ignored).</summary>
    public static VmFlags FromProt(Prot prot) => (VmFlags)(ulong)(prot & (Prot.Read | Prot.Write | Prot.Exec));

    /// <summary>
    /// <c>calc_vm_flag_bits</c>: MAP_GROWSDOWN to VM_GROWSDOWN, MAP_LOCKED to VM_LOCKED, MAP_SYNC to VM_SYNC,
    /// MAP_STACK to VM_NOHUGEPAGE.
    /// </summary>
    public static VmFlags FromMapFlags(MapFlags flags)
    {
        VmFlags vmFlags = VmFlags.None;
        if ((flags & MapFlags.GrowsDown) != 0)
        {
            vmFlags |= VmFlags.GrowsDown;
        }

        if ((flags & MapFlags.Locked) != 0)
        {
            vmFlags |= VmFlags.Locked;
        }

        if ((flags & MapFlags.Sync) != 0)
        {
            vmFlags |= VmFlags.Sync;
        }

        if ((flags & MapFlags.Stack) != 0)
        {
            vmFlags |= VmFlags.NoHugePage;
        }

        return vmFlags;
    }

    /// <summary><c>vma_is_accessible</c>: any of read, write or exec.</summary>
    public static bool IsAccessible(VmFlags flags) => (flags & Access) != 0;
}
