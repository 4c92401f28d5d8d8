using System.Diagnostics.CodeAnalysis;

namespace VmaEngine.Vma;

/// <summary>
/// The unmanaged part of an address space (<c>struct mm_struct</c>) that VMAs point to through
/// <see cref="VmArea.VmMm"/> and lock-free readers compare against. It is owned by an <see cref="AddressSpace"/>.
/// Internal: hosts see the address space only through <see cref="AddressSpace"/>; the engine alone reads and writes it.
/// </summary>
internal struct MmStruct
{
    /// <summary>
    /// <c>mm_lock_seq</c>: advanced when mmap_lock is released for write. A VMA whose <see cref="VmArea.VmLockSeq"/>
    /// equals it is write-locked. Written only by the mmap_lock writer, read by lock-free readers.
    /// </summary>
    public uint MmLockSeq;

    /// <summary>The number of VMAs (<c>map_count</c>); written under mmap_lock for write.</summary>
    public int MapCount;

    /// <summary>
    /// <c>def_flags</c>: the VM flags every new mapping of the mm gets (VM_LOCKED and VM_LOCKONFAULT after
    /// <c>mlockall(MCL_FUTURE)</c>, VM_NOHUGEPAGE after <c>PR_SET_THP_DISABLE</c>). A fork child keeps only
    /// <c>VM_INIT_DEF_MASK</c> of them. Written under mmap_lock for write.
    /// </summary>
    public VmFlags DefFlags;

    /// <summary>
    /// <c>total_vm</c>, <c>exec_vm</c>, <c>stack_vm</c> and <c>data_vm</c> (<c>vm_stat_account</c>); written under
    /// mmap_lock for write, read by <see cref="AddressSpace.Counters"/> without it, as <c>/proc/pid/status</c> reads them.
    /// </summary>
    [UnscopedRef]
    internal ref VmStat Stat => ref _stat;

    /// <summary>
    /// <c>locked_vm</c>: pages made VM_LOCKED by mlock, mlockall, MAP_LOCKED or <c>def_flags</c>, as the kernel counts
    /// them (not always the pages of the VM_LOCKED VMAs: see <see cref="AddressSpace.Counters"/>). Written under
    /// mmap_lock for write.
    /// </summary>
    [UnscopedRef]
    internal ref ulong LockedVm => ref _lockedVm;

    /// <summary>A number unique among live address spaces, for diagnostics.</summary>
    public long Id;

    /// <summary>The storage of <see cref="Stat"/>.</summary>
    private VmStat _stat;

    /// <summary>The storage of <see cref="LockedVm"/>.</summary>
    private ulong _lockedVm;

    /// <summary>The storage of <see cref="WriterWaitHandle"/>, kept at the end of the struct.</summary>
    private nint _writerWaitHandle;

    /// <summary>A GC handle (as an integer) to the monitor of <c>vma_writer_wait</c>; see <c>WriterWait</c>.</summary>
    internal nint WriterWaitHandle
    {
        readonly get => _writerWaitHandle;
        set => _writerWaitHandle = value;
    }
}
