using System.Diagnostics;
using System.Runtime.InteropServices;
using VmaEngine.Slab;
using VmaEngine.Vma.Locking;

namespace VmaEngine.Vma;

/// <summary>
/// The slab cache of VMAs (<c>vm_area_cachep</c>): SLAB_TYPESAFE_BY_RCU, 64-byte aligned, with the free pointer
/// over <see cref="VmArea.VmStart"/> so that objects keep their 192 bytes. Freed VMAs return to the cache at once;
/// only the slab memory waits for a grace period.
/// </summary>
internal static unsafe class VmAreaCache
{
    private static readonly SlabCache<VmArea> s_cache = new("vm_area_struct", new SlabCacheOptions
    {
        Alignment = 64,
        FreePointerOffset = 0,
        Flags = SlabFlags.TypesafeByRcu | SlabDebugSwitch.Flags,
    });

    /// <summary>The offset of <see cref="VmArea.VmRefcnt"/>, which allocation and duplication never write.</summary>
    private const int RefcntOffset = 128;

    /// <summary>The first offset after the refcount's 8-byte slot.</summary>
    private const int AfterRefcnt = 136;

    /// <summary>The cache, for statistics.</summary>
    public static SlabCache<VmArea> Cache => s_cache;

    /// <summary>
    /// <c>vm_area_alloc</c>: a zeroed, detached VMA of <paramref name="mm"/>, or null when memory is short or a
    /// failure is injected.
    /// </summary>
    public static VmArea* Alloc(MmStruct* mm, FaultInjection faults)
    {
        if (faults.ShouldFail())
        {
            return null;
        }

        VmArea* vma = s_cache.TryAlloc();
        if (vma == null)
        {
            return null;
        }

        // The refcount of a reused object is already 0 (it was detached before being freed) and must not be written:
        // a racing RCU reader may be testing it. Everything else is initialised.
        Debug.Assert(vma->VmRefcnt == 0, "a VMA from the cache is attached");
        InitExceptRefcount(vma);
        vma->VmMm = mm;
        vma->VmLockSeq = VmaLock.NeverLocked;
        return vma;
    }

    /// <summary>
    /// <c>vm_area_dup</c>: a detached copy of <paramref name="orig"/>. Its refcount stays 0 and its lock sequence is
    /// reset, so a reader racing with the reuse never sees the copy as attached or locked. The copy takes a reference
    /// on the anonymous name; its anon_vma chain is empty (the caller clones it) and the file and policy pointers are
    /// copied without references (the caller takes them, as the kernel's callers do).
    /// </summary>
    public static VmArea* Dup(VmArea* orig, FaultInjection faults)
    {
        VmArea* vma = Alloc(orig->VmMm, faults);
        if (vma == null)
        {
            return null;
        }

        // Copy around the refcount: a racing RCU reader may be testing the reused object's count, which must stay 0.
        byte* from = (byte*)orig;
        byte* to = (byte*)vma;
        NativeMemory.Copy(from, to, RefcntOffset);
        NativeMemory.Copy(from + AfterRefcnt, to + AfterRefcnt, VmArea.Size - AfterRefcnt);
        vma->VmLockSeq = VmaLock.NeverLocked;
        ListHead.Init(&vma->AnonVmaChain);
        AnonVmaName.Get(vma->AnonVmaName);
        return vma;
    }

    /// <summary>
    /// <c>vm_area_free</c>: drops the anonymous name and returns a detached VMA to the cache. The caller has already
    /// unlinked its anon_vmas and dropped its file and policy.
    /// </summary>
    public static void Free(VmArea* vma)
    {
        Debug.Assert(vma->VmRefcnt == 0, "vm_area_free of an attached VMA");
        Debug.Assert(ListHead.IsEmpty(&vma->AnonVmaChain), "vm_area_free of a VMA still linked to anon_vmas");
        AnonVmaName.Put(vma->AnonVmaName);
        vma->AnonVmaName = null;
        s_cache.Free(vma);
    }

    private static void InitExceptRefcount(VmArea* vma)
    {
        byte* p = (byte*)vma;
        NativeMemory.Clear(p, RefcntOffset);
        NativeMemory.Clear(p + AfterRefcnt, VmArea.Size - AfterRefcnt);
        ListHead.Init(&vma->AnonVmaChain);
    }
}
