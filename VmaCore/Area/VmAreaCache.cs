using System.Diagnostics;
using System.Runtime.InteropServices;
using Slab;
using VmaCore.Locking;

namespace VmaCore;

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
        Flags = SlabFlags.TypesafeByRcu,
    });

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
    /// reset, so a reader racing with the reuse never sees the copy as attached or locked.
    /// </summary>
    public static VmArea* Dup(VmArea* orig, FaultInjection faults)
    {
        VmArea* vma = Alloc(orig->VmMm, faults);
        if (vma == null)
        {
            return null;
        }

        int refcnt = vma->VmRefcnt;
        NativeMemory.Copy(orig, vma, (nuint)VmArea.Size);
        vma->VmRefcnt = refcnt;
        vma->VmLockSeq = VmaLock.NeverLocked;
        vma->AnonVmaChain.Next = vma->AnonVmaChain.Prev = &vma->AnonVmaChain;
        return vma;
    }

    /// <summary><c>vm_area_free</c>: returns a detached VMA to the cache.</summary>
    public static void Free(VmArea* vma)
    {
        Debug.Assert(vma->VmRefcnt == 0, "vm_area_free of an attached VMA");
        s_cache.Free(vma);
    }

    private static void InitExceptRefcount(VmArea* vma)
    {
        byte* p = (byte*)vma;
        NativeMemory.Clear(p, 128);
        NativeMemory.Clear(p + 136, VmArea.Size - 136);
        vma->AnonVmaChain.Next = vma->AnonVmaChain.Prev = &vma->AnonVmaChain;
    }
}
