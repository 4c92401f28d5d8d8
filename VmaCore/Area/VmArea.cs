using System.Diagnostics;
using System.Runtime.InteropServices;

namespace VmaEngine.Vma;

/// <summary>
/// A virtual memory area: Linux v6.15 <c>struct vm_area_struct</c>, field for field at the kernel's x86-64
/// offsets, 192 bytes over three cache lines. The first two lines hold what lookups and merges read; the
/// reference count <see cref="VmRefcnt"/> starts the third line so that readers taking the per-VMA lock do not
/// bounce the lines a writer is reading.
/// </summary>
/// <remarks>
/// VMAs live in a SLAB_TYPESAFE_BY_RCU cache whose free pointer overlays <see cref="VmStart"/> (the kernel's
/// <c>vm_freeptr</c> union): an RCU reader may still hold a pointer to a freed, even reused, VMA, so everything a
/// reader checks after taking the lock (<see cref="VmMm"/>, the range, <see cref="VmRefcnt"/>) must be re-checked.
/// Every reference is a pointer to an unmanaged struct; nothing managed is stored here.
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = 192)]
[DebuggerDisplay("VMA {VmStart,h}-{VmEnd,h} {VmFlags}")]
public unsafe struct VmArea
{
    /// <summary>The size of the struct in bytes, as in the kernel.</summary>
    public const int Size = 192;

    /// <summary>The first byte of the area (<c>vm_start</c>).</summary>
    [FieldOffset(0)]
    public ulong VmStart;

    /// <summary>The slab's free-list link while the object is free (<c>vm_freeptr</c>), over <see cref="VmStart"/>.</summary>
    [FieldOffset(0)]
    public void* VmFreePtr;

    /// <summary>One past the last byte of the area (<c>vm_end</c>).</summary>
    [FieldOffset(8)]
    public ulong VmEnd;

    /// <summary>The address space the area belongs to (<c>vm_mm</c>).</summary>
    [FieldOffset(16)]
    public MmStruct* VmMm;

    /// <summary>The page-table protection bits derived from the flags (<c>vm_page_prot</c>).</summary>
    [FieldOffset(24)]
    public ulong VmPageProt;

    /// <summary>The <c>VM_*</c> flags (<c>vm_flags</c>); written only with mmap_lock held for write and the VMA write-locked.</summary>
    [FieldOffset(32)]
    public VmFlags VmFlags;

    /// <summary>
    /// The mm's lock sequence at the time this VMA was last write-locked (<c>vm_lock_seq</c>): the VMA is
    /// write-locked while this equals the mm's current sequence.
    /// </summary>
    [FieldOffset(40)]
    public uint VmLockSeq;

    /// <summary>The list of anon_vma_chain links of this VMA (<c>anon_vma_chain</c>).</summary>
    [FieldOffset(48)]
    public ListHead AnonVmaChain;

    /// <summary>The anon_vma private pages of this VMA are reverse-mapped through, or null before the first write fault.</summary>
    [FieldOffset(64)]
    public AnonVma* AnonVma;

    /// <summary>The operations of the mapping (<c>vm_ops</c>), or null for anonymous memory.</summary>
    [FieldOffset(72)]
    public VmOperations* VmOps;

    /// <summary>The offset, in pages, of <see cref="VmStart"/> within the backing object (<c>vm_pgoff</c>).</summary>
    [FieldOffset(80)]
    public ulong VmPgoff;

    /// <summary>The backing file, or null (<c>vm_file</c>).</summary>
    [FieldOffset(88)]
    public VmFile* VmFile;

    /// <summary>The mapping's private data (<c>vm_private_data</c>).</summary>
    [FieldOffset(96)]
    public void* VmPrivateData;

    /// <summary>Swap readahead state (<c>swap_readahead_info</c>).</summary>
    [FieldOffset(104)]
    public long SwapReadaheadInfo;

    /// <summary>The NUMA memory policy (<c>vm_policy</c>), or null for the default.</summary>
    [FieldOffset(112)]
    public MemPolicy* VmPolicy;

    /// <summary>NUMA balancing scan state (<c>numab_state</c>).</summary>
    [FieldOffset(120)]
    public void* NumabState;

    /// <summary>
    /// The per-VMA lock and attach count (<c>vm_refcnt</c>): 0 detached, 1 attached, plus one per reader, plus
    /// <c>VMA_LOCK_OFFSET</c> while a writer waits. On its own cache line.
    /// </summary>
    [FieldOffset(128)]
    public int VmRefcnt;

    /// <summary>The file interval-tree node (<c>shared</c>).</summary>
    [FieldOffset(136)]
    public VmaShared Shared;

    /// <summary>The name set by PR_SET_VMA_ANON_NAME (<c>anon_name</c>), or null.</summary>
    [FieldOffset(168)]
    public AnonVmaName* AnonName;

    /// <summary>The userfaultfd context (<c>vm_userfaultfd_ctx</c>), or null.</summary>
    [FieldOffset(176)]
    public VmUserfaultfdCtx* VmUserfaultfdCtx;

    /// <summary>The size of the area in bytes.</summary>
    public readonly ulong Length => VmEnd - VmStart;

    /// <summary>The number of pages the area spans (<c>vma_pages</c>).</summary>
    public readonly ulong Pages => (VmEnd - VmStart) >> MmConstants.PageShift;

    /// <summary>Whether <paramref name="address"/> lies inside the area.</summary>
    public readonly bool Contains(ulong address) => address >= VmStart && address < VmEnd;
}
