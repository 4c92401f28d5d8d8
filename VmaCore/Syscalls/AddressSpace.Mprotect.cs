using System;
using System.Diagnostics;
using VmaEngine.Vma.Locking;
using VmaEngine.Vma.Tree;

namespace VmaEngine.Vma;

/// <summary>
/// mprotect (Linux v6.15 <c>mm/mprotect.c</c> <c>do_mprotect_pkey</c>, <c>mprotect_fixup</c>): changes the access
/// bits VMA by VMA, merging or splitting each through <c>vma_modify_flags</c>, and stops at the first hole with
/// ENOMEM, keeping what it changed before it, as the kernel does.
/// </summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>The PROT_* bits mprotect accepts (<c>arch_validate_prot</c>: read, write, exec and PROT_SEM).</summary>
    private const Prot ValidProt = Prot.Read | Prot.Write | Prot.Exec | (Prot)0x8;

    /// <summary>
    /// mprotect: sets the access of [address, address + length). EINVAL for an unaligned address, unknown bits or
    /// both grows bits; ENOMEM when the range wraps or is not fully mapped (after changing what precedes the hole),
    /// or when a split cannot allocate; EACCES when a VMA does not allow the access (VM_MAY*).
    /// <see cref="Prot.GrowsDown"/> extends the change down to the start of a growsdown VMA.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public Errno Mprotect(ulong address, ulong length, Prot prot) =>
        VmaMetrics.Syscall("mprotect", MprotectUncounted(address, length, prot));

    /// <summary><see cref="VmaMetrics"/> counts the result of this, the system call's work.</summary>
    private Errno MprotectUncounted(ulong address, ulong length, Prot prot)
    {
        ThrowIfDisposed();
        Prot grows = prot & (Prot.GrowsDown | Prot.GrowsUp);
        prot &= ~grows;
        if (grows == (Prot.GrowsDown | Prot.GrowsUp))
        {
            return Errno.EINVAL;
        }

        if ((address & ~MmConstants.PageMask) != 0)
        {
            return Errno.EINVAL;
        }

        if (length == 0)
        {
            return Errno.None;
        }

        ulong end = address + PageAlign(length);
        if (end <= address)
        {
            return Errno.ENOMEM;
        }

        if ((prot & ~ValidProt) != 0)
        {
            return Errno.EINVAL;
        }

        MmapLock.WriteLock();
        try
        {
            return DoMprotect(address, end, prot, grows);
        }
        finally
        {
            MmapLock.WriteUnlock();
        }
    }

    /// <summary>The VMA walk of <c>do_mprotect_pkey</c>, under mmap_lock for write.</summary>
    private Errno DoMprotect(ulong start, ulong end, Prot prot, Prot grows)
    {
        var vmi = new VmaIterator(this, start);
        VmArea* vma = vmi.Find(end);
        if (vma == null)
        {
            return Errno.ENOMEM;
        }

        if (grows == Prot.GrowsDown)
        {
            start = vma->VmStart;
            if ((vma->VmFlags & VmFlags.GrowsDown) == 0)
            {
                return Errno.EINVAL;
            }
        }
        else if (vma->VmStart > start)
        {
            return Errno.ENOMEM;
        }
        else if (grows == Prot.GrowsUp)
        {
            // No VMA grows up on x86-64: PROT_GROWSUP on a mapped start never finds a VM_GROWSUP VMA.
            return Errno.EINVAL;
        }

        return FixupRange(vma, start, end, &ProtectOne, VmFlagBits.FromProt(prot));
    }

    /// <summary>One step of the mprotect walk: the VMA's new access bits, refused if VM_MAY* does not allow them.</summary>
    private static Errno ProtectOne(AddressSpace mm, VmArea* vma, ref VmArea* prev, ulong start, ulong end, VmFlags newAccess)
    {
        VmFlags newFlags = newAccess | (vma->VmFlags & ~VmFlagBits.Access);

        // The VM_MAY* bits sit four places above the bits they allow.
        if ((((ulong)newFlags & ~((ulong)newFlags >> 4)) & (ulong)VmFlagBits.Access) != 0)
        {
            return Errno.EACCES;
        }

        return mm.MprotectFixup(vma, ref prev, start, end, newFlags);
    }

    /// <summary>
    /// <c>mprotect_fixup</c>: applies <paramref name="newFlags"/> to [start, end) of <paramref name="vma"/>. Turning a
    /// private mapping writable charges it (VM_ACCOUNT); making a never-faulted anonymous range read-only drops the
    /// charge. The pages move between the <c>vm_stat_account</c> classes of the old and new flags. EPERM on a sealed
    /// VMA. On return <paramref name="prev"/> is the VMA now covering the range.
    /// </summary>
    private Errno MprotectFixup(VmArea* vma, ref VmArea* prev, ulong start, ulong end, VmFlags newFlags)
    {
        // Sealed: refused even when nothing would change.
        if (!CanModifyVma(vma))
        {
            return Errno.EPERM;
        }

        VmFlags oldFlags = vma->VmFlags;
        if (newFlags == oldFlags)
        {
            prev = vma;
            return Errno.None;
        }

        if ((newFlags & VmFlags.Write) != 0)
        {
            if ((oldFlags & (VmFlags.Account | VmFlags.Write | VmFlags.HugeTlb | VmFlags.Shared | VmFlags.NoReserve)) == 0)
            {
                newFlags |= VmFlags.Account;
            }
        }
        else if ((oldFlags & VmFlags.Account) != 0 && vma->VmOps == null && vma->AnonVma == null)
        {
            newFlags &= ~VmFlags.Account;
        }

        VmArea* target = ApplyFlags(vma, prev, start, end, newFlags, vma->AnonVmaName, out Errno error);
        if (target == null)
        {
            return error;
        }

        prev = target;
        long pages = (long)((end - start) >> MmConstants.PageShift);
        _mm->Stat.Account(oldFlags, -pages);
        _mm->Stat.Account(newFlags, pages);

        // A locked private VMA becoming writable is populated at once to break COW (populate_vma_page_range).
        if ((oldFlags & (VmFlags.Write | VmFlags.Shared | VmFlags.Locked)) == VmFlags.Locked && (newFlags & VmFlags.Write) != 0)
        {
            PopulateVmaRange(target, start, end, write: true);
        }

        return Errno.None;
    }

    /// <summary>
    /// <c>vma_modify_flags</c> (or <c>vma_modify_flags_name</c> when the name changes) followed by the caller's
    /// <c>vm_flags_reset</c>: the VMA covering exactly [start, end) after merging or splitting, write-locked, with
    /// <paramref name="newFlags"/>; null with the error when a split could not allocate (nothing changed then).
    /// </summary>
    private VmArea* ApplyFlags(VmArea* vma, VmArea* prev, ulong start, ulong end, VmFlags newFlags, AnonVmaName* name, out Errno error)
    {
        var vmi = new VmaIterator(this, start);
        VmArea* target = AnonVmaName.Equal(name, vma->AnonVmaName)
            ? ModifyFlags(ref vmi, prev, vma, start, end, newFlags, out error)
            : ModifyFlagsName(ref vmi, prev, vma, start, end, newFlags, name, out error);
        if (target == null)
        {
            return null;
        }

        Debug.Assert(target->VmStart <= start && target->VmEnd >= end, "vma_modify returned a VMA not covering the range");
        VmaLock.StartWrite(target);
        target->VmFlags = newFlags;
        target->VmPageProt = PageProt(newFlags);
        return target;
    }
}
