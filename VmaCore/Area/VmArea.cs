using System.Diagnostics;
using System.Runtime.InteropServices;
using VmaEngine.Vma.Files;

namespace VmaEngine.Vma;

/// <summary>
/// A virtual memory area: Linux v6.15 <c>struct vm_area_struct</c>, field for field at the kernel's x86-64
/// offsets, 192 bytes over three cache lines. The first two lines hold what lookups and merges read; the
/// reference count <see cref="VmRefcnt"/> starts the third line so that readers taking the per-VMA lock do not
/// bounce the lines a writer is reading.
/// </summary>
/// <remarks>
/// <para>
/// VMAs live in a SLAB_TYPESAFE_BY_RCU cache whose free pointer overlays <see cref="VmStart"/> (the kernel's
/// <c>vm_freeptr</c> union): an RCU reader may still hold a pointer to a freed, even reused, VMA, so everything a
/// reader checks after taking the lock (<see cref="VmMm"/>, the range, <see cref="VmRefcnt"/>) must be re-checked.
/// Every reference is a pointer to an unmanaged struct; nothing managed is stored here.
/// </para>
/// <para>
/// For hosts this is the advanced, allocation-free path: the <c>VmArea*</c> that
/// <see cref="AddressSpace.LockVmaUnderRcu"/> returns read-locked, released with
/// <see cref="AddressSpace.VmaEndRead"/>. The kernel fields are internal (the engine alone writes them); a host reads
/// the VMA through the read-only members below, the same facts <see cref="VmaInfo"/> carries, plus the page
/// protection. They stay true only while the VMA is read-locked.
/// </para>
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = 192)]
[DebuggerDisplay("VMA {VmStart,h}-{VmEnd,h} {VmFlags}")]
public unsafe struct VmArea
{
    /// <summary>The size of the struct in bytes, as in the kernel.</summary>
    public const int Size = 192;

    // The kernel fields keep the kernel's names (vm_start is VmStart, as in every other kernel struct here) rather
    // than the _camelCase of internal fields: the engine reads them through VmArea* everywhere, as the kernel does.
#pragma warning disable IDE1006
    /// <summary>The first byte of the area (<c>vm_start</c>).</summary>
    [FieldOffset(0)]
    internal ulong VmStart;

    /// <summary>The slab's free-list link while the object is free (<c>vm_freeptr</c>), over <see cref="VmStart"/>.</summary>
    [FieldOffset(0)]
    internal void* VmFreePtr;

    /// <summary>One past the last byte of the area (<c>vm_end</c>).</summary>
    [FieldOffset(8)]
    internal ulong VmEnd;

    /// <summary>The address space the area belongs to (<c>vm_mm</c>).</summary>
    [FieldOffset(16)]
    internal MmStruct* VmMm;

    /// <summary>The page-table protection bits derived from the flags (<c>vm_page_prot</c>).</summary>
    [FieldOffset(24)]
    internal ulong VmPageProt;

    /// <summary>The <c>VM_*</c> flags (<c>vm_flags</c>); written only with mmap_lock held for write and the VMA write-locked.</summary>
    [FieldOffset(32)]
    internal VmFlags VmFlags;

    /// <summary>
    /// The mm's lock sequence at the time this VMA was last write-locked (<c>vm_lock_seq</c>): the VMA is
    /// write-locked while this equals the mm's current sequence.
    /// </summary>
    [FieldOffset(40)]
    internal uint VmLockSeq;

    /// <summary>The list of anon_vma_chain links of this VMA (<c>anon_vma_chain</c>).</summary>
    [FieldOffset(48)]
    internal ListHead AnonVmaChain;

    /// <summary>The anon_vma private pages of this VMA are reverse-mapped through, or null before the first write fault.</summary>
    [FieldOffset(64)]
    internal AnonVma* AnonVma;

    /// <summary>The operations of the mapping (<c>vm_ops</c>), or null for anonymous memory.</summary>
    [FieldOffset(72)]
    internal VmOperations* VmOps;

    /// <summary>The offset, in pages, of <see cref="VmStart"/> within the backing object (<c>vm_pgoff</c>).</summary>
    [FieldOffset(80)]
    internal ulong VmPgoff;

    /// <summary>The backing file, or null (<c>vm_file</c>).</summary>
    [FieldOffset(88)]
    internal VmFile* VmFile;

    /// <summary>The mapping's private data (<c>vm_private_data</c>).</summary>
    [FieldOffset(96)]
    internal void* VmPrivateData;

    /// <summary>Swap readahead state (<c>swap_readahead_info</c>).</summary>
    [FieldOffset(104)]
    internal long SwapReadaheadInfo;

    /// <summary>The NUMA memory policy (<c>vm_policy</c>), or null for the default.</summary>
    [FieldOffset(112)]
    internal MemPolicy* VmPolicy;

    /// <summary>NUMA balancing scan state (<c>numab_state</c>).</summary>
    [FieldOffset(120)]
    internal void* NumabState;

    /// <summary>
    /// The per-VMA lock and attach count (<c>vm_refcnt</c>): 0 detached, 1 attached, plus one per reader, plus
    /// <c>VMA_LOCK_OFFSET</c> while a writer waits. On its own cache line.
    /// </summary>
    [FieldOffset(128)]
    internal int VmRefcnt;

    /// <summary>The file interval-tree node (<c>shared</c>).</summary>
    [FieldOffset(136)]
    internal VmaShared Shared;

    /// <summary>The name set by PR_SET_VMA_ANON_NAME (<c>anon_name</c>), or null.</summary>
    [FieldOffset(168)]
    internal AnonVmaName* AnonVmaName;

    /// <summary>The userfaultfd context (<c>vm_userfaultfd_ctx</c>), or null.</summary>
    [FieldOffset(176)]
    internal VmUserfaultfdCtx* VmUserfaultfdCtx;

#pragma warning restore IDE1006

    /// <summary>The first byte of the area (<c>vm_start</c>).</summary>
    public readonly ulong Start => VmStart;

    /// <summary>One past the last byte of the area (<c>vm_end</c>).</summary>
    public readonly ulong End => VmEnd;

    /// <summary>The <c>VM_*</c> flags (<c>vm_flags</c>); the access bits are the protection.</summary>
    public readonly VmFlags Flags => VmFlags;

    /// <summary>The offset, in pages, of <see cref="Start"/> within the backing object (<c>vm_pgoff</c>).</summary>
    public readonly ulong Pgoff => VmPgoff;

    /// <summary>
    /// The page protection derived from the flags (<c>vm_page_prot</c>), modelled as their access and shared bits
    /// (<see cref="VmFlags.Read"/>, <see cref="VmFlags.Write"/>, <see cref="VmFlags.Exec"/>, <see cref="VmFlags.Shared"/>).
    /// </summary>
    public readonly ulong PageProt => VmPageProt;

    /// <summary>
    /// Whether the area has an anon_vma (<c>vma->anon_vma != NULL</c>): private pages were faulted in, or it was
    /// split or copied from an area that had one.
    /// </summary>
    public readonly bool HasAnonVma => AnonVma != null;

    /// <summary>The identity of the area's anon_vma (its address), 0 when it has none.</summary>
    public readonly nuint AnonVmaId => (nuint)AnonVma;

    /// <summary>Anonymous, shared anonymous or a file.</summary>
    public readonly VmaBacking Backing => VmFile == null ? VmaBacking.Anonymous
        : VmFile->Kind == VmFileKind.SharedAnonymous ? VmaBacking.SharedAnonymous : VmaBacking.File;

    /// <summary>The backing object's identity, 0 for private anonymous memory.</summary>
    public readonly int FileId => VmFile == null ? 0 : VmFile->Id;

    /// <summary>The mapped file's name, or null when the area does not map a named file.</summary>
    public readonly string? FileName => VmFile == null ? null : FileNames.NameOf(VmFile);

    /// <summary>The name set by <see cref="AddressSpace.SetAnonName"/> (<c>anon_name</c>), or null.</summary>
    public readonly string? AnonName => AnonNameTable.TextOf(AnonVmaName);

    /// <summary>The size of the area in bytes.</summary>
    public readonly ulong Length => VmEnd - VmStart;

    /// <summary>The number of pages the area spans (<c>vma_pages</c>).</summary>
    public readonly ulong Pages => (VmEnd - VmStart) >> MmConstants.PageShift;

    /// <summary>Whether <paramref name="address"/> lies inside the area.</summary>
    public readonly bool Contains(ulong address) => address >= VmStart && address < VmEnd;

    /// <summary>A copy of the facts above (allocation-free: the names are the interned strings).</summary>
    public readonly VmaInfo ToInfo() => new(VmStart, VmEnd, VmFlags, VmPgoff, Backing, FileId, FileName, AnonName, AnonVmaId);
}
