using System;
using VmaEngine.Vma.Files;

namespace VmaEngine.Vma;

/// <summary>
/// mmap (Linux v6.15 <c>arch/x86/kernel/sys_x86_64.c</c>, <c>mm/mmap.c</c> <c>ksys_mmap_pgoff</c>,
/// <c>vm_mmap_pgoff</c>, <c>do_mmap</c>): argument checks, <c>vm_flags</c>, placement, then <c>__mmap_region</c>
/// under mmap_lock for write, and population (MAP_POPULATE, MAP_LOCKED) afterwards under mmap_lock for read.
/// </summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>MAP_TYPE: the bits that choose shared, shared-validate, private or droppable.</summary>
    private const MapFlags MapType = (MapFlags)0x0F;

    /// <summary>
    /// LEGACY_MAP_MASK: the flags MAP_SHARED has always ignored when unknown, and the only ones MAP_SHARED_VALIDATE
    /// accepts for the files of this model (none of which supports MAP_SYNC).
    /// </summary>
    private const MapFlags LegacyMapMask = MapFlags.ShareValidate | MapFlags.Fixed | MapFlags.Anonymous | MapFlags.DenyWrite
        | MapFlags.Executable | MapFlags.Uninitialized | MapFlags.GrowsDown | MapFlags.Locked | MapFlags.NoReserve
        | MapFlags.Populate | MapFlags.NonBlock | MapFlags.Stack | MapFlags.HugeTlb | MapFlags.ThirtyTwoBit
        | MapFlags.Above4G | MapFlags.Huge2MB | MapFlags.Huge1GB;

    /// <summary>PUD_SIZE: the gigantic hugetlb page size (MAP_HUGE_1GB).</summary>
    private const ulong HugePudSize = 1UL << 30;

    /// <summary><c>MAX_LFS_FILESIZE</c>: the largest file size, which bounds a file mapping's end (<c>file_mmap_ok</c>).</summary>
    private const ulong MaxFileSize = long.MaxValue;

    /// <summary>
    /// mmap of anonymous memory (<paramref name="flags"/> must contain <see cref="MapFlags.Anonymous"/>; without it
    /// there is no file and the result is EBADF). On success <paramref name="mapped"/> is the address.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public Errno Mmap(ulong address, ulong length, Prot prot, MapFlags flags, out ulong mapped) =>
        VmaMetrics.Syscall("mmap", MmapUncounted(address, length, prot, flags, out mapped));

    /// <summary><see cref="VmaMetrics"/> counts the result of this, the system call's work.</summary>
    private Errno MmapUncounted(ulong address, ulong length, Prot prot, MapFlags flags, out ulong mapped)
    {
        ThrowIfDisposed();
        mapped = 0;
        if ((flags & MapFlags.Anonymous) == 0)
        {
            return Errno.EBADF;
        }

        return (flags & MapFlags.HugeTlb) != 0
            ? HugeTlbMmap(address, length, prot, flags, out mapped)
            : VmMmap(null, address, length, prot, flags, 0, out mapped);
    }

    /// <summary>
    /// The MAP_HUGETLB branch of <c>ksys_mmap_pgoff</c> for anonymous memory: EINVAL for a page size x86-64 has no
    /// hstate for (<c>hstate_sizelog</c>: 2 MiB, and 1 GiB only with <see cref="AddressSpaceOptions.GiganticHugePages"/>);
    /// the length is rounded up to the huge page size (to 0 on overflow, which <c>do_mmap</c> refuses with EINVAL),
    /// and a new hugetlbfs file of that size (<c>hugetlb_file_setup</c>, an allocation: ENOMEM) is mapped at offset 0
    /// like any file. Its mmap (<see cref="MmapNewVma"/>) makes the VMA VM_HUGETLB | VM_DONTEXPAND and fails with
    /// ENOMEM unless MAP_NORESERVE skips the reservation: this model's hugetlb pools are empty, as with the default
    /// <c>nr_hugepages</c> of 0, so the reservation always fails and every fault on such a VMA is SIGBUS.
    /// </summary>
    private Errno HugeTlbMmap(ulong address, ulong length, Prot prot, MapFlags flags, out ulong mapped)
    {
        mapped = 0;
        ulong hugePageSize = (flags & MapFlags.HugeSizeMask) switch
        {
            0 or MapFlags.Huge2MB => HugePmdSize,
            MapFlags.Huge1GB when Options.GiganticHugePages => HugePudSize,
            _ => 0,
        };
        if (hugePageSize == 0)
        {
            return Errno.EINVAL;
        }

        ulong alignedLength = (length + (hugePageSize - 1)) & ~(hugePageSize - 1);
        if (alignedLength == 0)
        {
            return Errno.EINVAL;
        }

        if (Faults.ShouldFail())
        {
            return Errno.ENOMEM;
        }

        VmFile* file = VmFile.Create(FileNames.NextId(), alignedLength >> MmConstants.PageShift, VmFileKind.HugeTlb, canRead: true, canWrite: true);
        file->HugePageSize = hugePageSize;
        Errno error = VmMmap(file, address, alignedLength, prot, flags, 0, out mapped);

        // The mapping holds its own reference; ours goes (and frees the file if mapping failed).
        VmFile.Put(file);
        return error;
    }

    /// <summary>
    /// mmap of <paramref name="file"/> at byte <paramref name="offset"/> (as the syscall takes it: EINVAL unless
    /// page aligned). With <see cref="MapFlags.Anonymous"/> the file is ignored, as the kernel ignores the
    /// descriptor.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="file"/> is null.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="file"/> was disposed.</exception>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public Errno Mmap(ulong address, ulong length, Prot prot, MapFlags flags, MappedFile file, ulong offset, out ulong mapped) =>
        VmaMetrics.Syscall("mmap", MmapUncounted(address, length, prot, flags, file, offset, out mapped));

    /// <summary><see cref="VmaMetrics"/> counts the result of this, the system call's work.</summary>
    private Errno MmapUncounted(ulong address, ulong length, Prot prot, MapFlags flags, MappedFile file, ulong offset, out ulong mapped)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(file);
        mapped = 0;
        if ((offset & ~MmConstants.PageMask) != 0)
        {
            return Errno.EINVAL;
        }

        if ((flags & MapFlags.Anonymous) != 0 && (flags & MapFlags.HugeTlb) != 0)
        {
            return HugeTlbMmap(address, length, prot, flags, out mapped);
        }

        // No file of this model lives on hugetlbfs: MAP_HUGETLB on one is EINVAL (ksys_mmap_pgoff).
        if ((flags & (MapFlags.Anonymous | MapFlags.HugeTlb)) == MapFlags.HugeTlb)
        {
            return Errno.EINVAL;
        }

        VmFile* vmFile = (flags & MapFlags.Anonymous) != 0 ? null : file.File;
        return VmMmap(vmFile, address, length, prot, flags, offset >> MmConstants.PageShift, out mapped);
    }

    /// <summary><c>vm_mmap_pgoff</c>: <c>do_mmap</c> under mmap_lock for write, then populate if asked.</summary>
    private Errno VmMmap(VmFile* file, ulong address, ulong length, Prot prot, MapFlags flags, ulong pgoff, out ulong mapped)
    {
        ulong populate;
        MmapLock.WriteLock();
        try
        {
            Errno error = DoMmap(file, address, length, prot, flags, pgoff, out mapped, out populate);
            if (error != Errno.None)
            {
                return error;
            }
        }
        finally
        {
            MmapLock.WriteUnlock();
        }

        if (populate != 0)
        {
            MmPopulate(mapped, populate, ignoreErrors: true);
        }

        return Errno.None;
    }

    /// <summary>
    /// <c>do_mmap</c>: validates, computes <c>vm_flags</c> (<c>calc_vm_prot_bits</c>, <c>calc_vm_flag_bits</c>,
    /// VM_MAY*, VM_SHARED/VM_MAYSHARE, VM_NORESERVE), places the mapping and maps it. A shared
    /// anonymous mapping gets a new shmem object of its length (<c>shmem_zero_setup</c>, an allocation point).
    /// <paramref name="populate"/> is the length to fault in afterwards.
    /// </summary>
    private Errno DoMmap(VmFile* file, ulong address, ulong length, Prot prot, MapFlags flags, ulong pgoff, out ulong mapped, out ulong populate)
    {
        mapped = 0;
        populate = 0;
        if (length == 0)
        {
            return Errno.EINVAL;
        }

        if ((flags & MapFlags.FixedNoReplace) != 0)
        {
            flags |= MapFlags.Fixed;
        }

        if ((flags & MapFlags.Fixed) == 0)
        {
            address = RoundHintToMin(address);
        }

        ulong alignedLength = PageAlign(length);
        if (alignedLength == 0)
        {
            return Errno.ENOMEM;
        }

        ulong pages = alignedLength >> MmConstants.PageShift;
        if (pgoff + pages < pgoff)
        {
            return Errno.EOVERFLOW;
        }

        if (Mm->MapCount > Options.MaxMapCount)
        {
            return Errno.ENOMEM;
        }

        VmFlags vmFlags = VmFlagBits.FromProt(prot) | VmFlagBits.FromMapFlags(flags) | Mm->DefFlags | VmFlagBits.MayAll;
        MapFlags type = flags & MapType;
        bool shared = type == MapFlags.Shared || (file != null && type == MapFlags.ShareValidate);
        Errno error = GetUnmappedArea(file == null && !shared, VmFile.HugePageSizeOf(file), address, alignedLength, flags, out ulong addr);
        if (error != Errno.None)
        {
            return error;
        }

        if ((flags & MapFlags.FixedNoReplace) != 0 && Tree.FindAtOrAfter(addr, addr + alignedLength, out _, out _) != null)
        {
            return Errno.EEXIST;
        }

        error = file != null
            ? FileMapFlags(file, prot, flags, pgoff, alignedLength, ref vmFlags)
            : AnonymousMapFlags(flags, addr, ref vmFlags, ref pgoff);
        if (error != Errno.None)
        {
            return error;
        }

        // vm.overcommit_memory is not 2 (OVERCOMMIT_NEVER) in this model, so MAP_NORESERVE always counts.
        if ((flags & MapFlags.NoReserve) != 0)
        {
            vmFlags |= VmFlags.NoReserve;
        }

        // VM_ACCOUNT (accountable_mapping) is added by MmapRegion, where the kernel adds it.
        VmFile* shmem = null;
        if (file == null && shared)
        {
            if (Faults.ShouldFail())
            {
                return Errno.ENOMEM;
            }

            shmem = VmFile.Create(FileNames.NextId(), pages, VmFileKind.SharedAnonymous, canRead: true, canWrite: true);
            file = shmem;
        }

        error = MmapRegion(file, addr, alignedLength, vmFlags, pgoff, out mapped);
        if (shmem != null)
        {
            // The mapping holds its own reference; ours goes (and frees the object if mapping failed).
            VmFile.Put(shmem);
        }

        if (error != Errno.None)
        {
            return error;
        }

        if ((vmFlags & VmFlags.Locked) != 0 || (flags & (MapFlags.Populate | MapFlags.NonBlock)) == MapFlags.Populate)
        {
            populate = alignedLength;
        }

        return Errno.None;
    }

    /// <summary>
    /// The file part of <c>do_mmap</c>: the offset must leave the end within the largest file size (EOVERFLOW,
    /// <c>file_mmap_ok</c>); MAP_SHARED_VALIDATE refuses flags outside LEGACY_MAP_MASK (EOPNOTSUPP); a shared
    /// mapping needs a writable file for PROT_WRITE and loses VM_MAYWRITE/VM_SHARED on a read-only one; every
    /// mapping needs a readable file; growsdown and any other MAP_TYPE (MAP_DROPPABLE) are EINVAL.
    /// </summary>
    private static Errno FileMapFlags(VmFile* file, Prot prot, MapFlags flags, ulong pgoff, ulong length, ref VmFlags vmFlags)
    {
        if (length > MaxFileSize || pgoff > (MaxFileSize - length) >> MmConstants.PageShift)
        {
            return Errno.EOVERFLOW;
        }

        MapFlags type = flags & MapType;
        if (type is MapFlags.Shared or MapFlags.ShareValidate)
        {
            if (type == MapFlags.ShareValidate && (flags & ~LegacyMapMask) != 0)
            {
                return Errno.EOPNOTSUPP;
            }

            if ((prot & Prot.Write) != 0 && !file->CanWrite)
            {
                return Errno.EACCES;
            }

            vmFlags |= VmFlags.Shared | VmFlags.MayShare;
            if (!file->CanWrite)
            {
                vmFlags &= ~(VmFlags.MayWrite | VmFlags.Shared);
            }
        }
        else if (type != MapFlags.Private)
        {
            return Errno.EINVAL;
        }

        if (!file->CanRead)
        {
            return Errno.EACCES;
        }

        return (vmFlags & VmFlags.GrowsDown) != 0 ? Errno.EINVAL : Errno.None;
    }

    /// <summary>
    /// The anonymous part of <c>do_mmap</c>'s MAP_TYPE switch: shared gets VM_SHARED|VM_MAYSHARE and offset 0
    /// (growsdown is EINVAL); droppable (not with MAP_LOCKED, MAP_HUGETLB or growsdown: EINVAL) gets VM_DROPPABLE,
    /// VM_NORESERVE, VM_WIPEONFORK and VM_DONTDUMP and continues as private; private gets the address in pages as
    /// its pgoff; any other type, MAP_SHARED_VALIDATE included, is EINVAL.
    /// </summary>
    private static Errno AnonymousMapFlags(MapFlags flags, ulong addr, ref VmFlags vmFlags, ref ulong pgoff)
    {
        switch (flags & MapType)
        {
            case MapFlags.Shared:
                if ((vmFlags & VmFlags.GrowsDown) != 0)
                {
                    return Errno.EINVAL;
                }

                pgoff = 0;
                vmFlags |= VmFlags.Shared | VmFlags.MayShare;
                return Errno.None;
            case MapFlags.Droppable:
                if ((flags & (MapFlags.Locked | MapFlags.HugeTlb)) != 0 || (vmFlags & VmFlags.GrowsDown) != 0)
                {
                    return Errno.EINVAL;
                }

                vmFlags |= VmFlags.Droppable | VmFlags.NoReserve | VmFlags.WipeOnFork | VmFlags.DontDump;
                pgoff = addr >> MmConstants.PageShift;
                return Errno.None;
            case MapFlags.Private:
                pgoff = addr >> MmConstants.PageShift;
                return Errno.None;
            default:
                return Errno.EINVAL;
        }
    }

    /// <summary><c>round_hint_to_min</c>: a non-zero hint below mmap_min_addr becomes mmap_min_addr.</summary>
    private ulong RoundHintToMin(ulong hint)
    {
        hint &= MmConstants.PageMask;
        ulong min = Options.MmapMinAddr;
        return hint != 0 && hint < min ? PageAlign(min) : hint;
    }
}
