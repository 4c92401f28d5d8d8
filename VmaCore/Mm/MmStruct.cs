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

    /// <summary>A number unique among live address spaces, for diagnostics.</summary>
    public long Id;

    /// <summary>The storage of <see cref="WriterWaitHandle"/>, kept at the end of the struct.</summary>
    private nint _writerWaitHandle;

    /// <summary>A GC handle (as an integer) to the monitor of <c>vma_writer_wait</c>; see <c>WriterWait</c>.</summary>
    internal nint WriterWaitHandle
    {
        readonly get => _writerWaitHandle;
        set => _writerWaitHandle = value;
    }
}
