using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Files;
using static Tests.VmaCore.Syscalls.Layout;

namespace Tests.VmaCore.Fuzz;

/// <summary>
/// Regression tests for the differences the differential syscall fuzzer found between the engine and Linux 6.18
/// (each failed before its fix; the kernel's result is the expected one).
/// </summary>
public sealed class FuzzFindingsTests
{
    private const Prot Rw = Prot.Read | Prot.Write;
    private const MapFlags AnonFixed = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;

    /// <summary>
    /// mprotect with PROT_GROWSUP: a range whose start is unmapped is ENOMEM like any other (the kernel checks the start
    /// first); only a mapped start reaches the VM_GROWSUP check, which no x86-64 VMA passes (EINVAL).
    /// </summary>
    [Test]
    public void MprotectGrowsUp_UnmappedStartIsEnomem()
    {
        using var space = new AddressSpace();
        Assert.That(space.Mmap(P(4), L(4), Rw, AnonFixed, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Mprotect(P(2), L(4), Prot.Read | Prot.GrowsUp), Is.EqualTo(Errno.ENOMEM));
        Assert.That(space.Mprotect(P(4), L(1), Prot.Read | Prot.GrowsUp), Is.EqualTo(Errno.EINVAL));
        Assert.That(space.Mprotect(P(20), L(1), Prot.Read | Prot.GrowsUp), Is.EqualTo(Errno.ENOMEM));
    }

    /// <summary>
    /// mremap without MREMAP_FIXED ignores its new-address argument (6.17's check of it against TASK_SIZE was a
    /// regression, fixed in 6.17.y and 6.18); with MREMAP_FIXED a destination past TASK_SIZE stays EINVAL.
    /// </summary>
    [Test]
    public void MremapWithoutFixed_IgnoresTheNewAddress()
    {
        using var space = new AddressSpace(AddressSpaceOptions.ForProfile(AddressSpaceOptions.ProfileOracleHost));
        Assert.That(space.Mmap(P(0), L(2), Rw, AnonFixed, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Mremap(P(0), L(2), L(4), MremapFlags.None, MmConstants.TaskSize - L(1), out ulong grown), Is.EqualTo(Errno.None));
        Assert.That(grown, Is.EqualTo(P(0)));
        Assert.That(space.Mremap(P(8), L(1), L(2), MremapFlags.MayMove, ulong.MaxValue, out _), Is.EqualTo(Errno.EFAULT));
        Assert.That(
            space.Mremap(P(0), L(4), L(4), MremapFlags.MayMove | MremapFlags.Fixed, MmConstants.TaskSize - L(1), out _),
            Is.EqualTo(Errno.EINVAL));
    }

    /// <summary>
    /// A MAP_FIXED address in the last 4095 values of the address space is taken for an error code by the kernel
    /// (<c>IS_ERR_VALUE</c> in <c>__get_unmapped_area</c>): mmap returns that errno.
    /// </summary>
    [TestCase(ulong.MaxValue, Errno.EPERM)]
    [TestCase(ulong.MaxValue - 12, Errno.EACCES)]
    [TestCase(ulong.MaxValue - 4094, (Errno)4095)]
    [TestCase(ulong.MaxValue - 4095, Errno.ENOMEM)]
    public void MmapFixedAtAnErrorValue_ReturnsThatErrno(ulong address, Errno expected)
    {
        using var space = new AddressSpace();
        Assert.That(space.Mmap(address, L(1), Rw, AnonFixed, out _), Is.EqualTo(expected));
        Assert.That(space.MapCount, Is.Zero);
    }

    /// <summary>
    /// A file mapping must end within MAX_LFS_FILESIZE (2^63 - 1 bytes), else EOVERFLOW (<c>file_mmap_ok</c>), even
    /// though offset plus length does not wrap.
    /// </summary>
    [TestCase(0x7FFF_FFFF_FFFF_E000UL, 1UL, Errno.None)]
    [TestCase(0x7FFF_FFFF_FFFF_F000UL, 1UL, Errno.EOVERFLOW)]
    [TestCase(0x7FFF_FFFF_FFFF_C000UL, 3UL, Errno.None)]
    [TestCase(0x7FFF_FFFF_FFFF_C000UL, 4UL, Errno.EOVERFLOW)]
    [TestCase(0xFFFF_FFFF_FFFF_F000UL, 1UL, Errno.EOVERFLOW)]
    public void MmapFileBeyondTheLargestFileOffset_IsEoverflow(ulong offset, ulong pages, Errno expected)
    {
        using var files = new FileRegistry();
        using var space = new AddressSpace();
        MappedFile file = files.Open("f", 16);
        Assert.That(space.Mmap(P(0), L(pages), Prot.Read, MapFlags.Private | MapFlags.Fixed, file, offset, out _), Is.EqualTo(expected));
        Assert.That(space.MapCount, Is.EqualTo(expected == Errno.None ? 1 : 0));
    }

    /// <summary>
    /// MAP_SHARED_VALIDATE maps a file shared, refusing with EOPNOTSUPP any flag outside LEGACY_MAP_MASK (MAP_SYNC,
    /// MAP_FIXED_NOREPLACE, unknown bits) where MAP_SHARED ignores them; anonymous memory does not take it.
    /// </summary>
    [Test]
    public void MmapSharedValidate_MapsAFileSharedAndRefusesNonLegacyFlags()
    {
        using var files = new FileRegistry();
        using var space = new AddressSpace();
        MappedFile file = files.Open("f", 16);
        const MapFlags validate = MapFlags.ShareValidate | MapFlags.Fixed;
        Assert.That(space.Mmap(P(0), L(1), Rw, validate | (MapFlags)0x40, file, 0, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Snapshot()[0].Flags & (VmFlags.Shared | VmFlags.MayShare), Is.EqualTo(VmFlags.Shared | VmFlags.MayShare));
        Assert.That(space.Mmap(P(2), L(1), Rw, validate | MapFlags.Sync, file, 0, out _), Is.EqualTo(Errno.EOPNOTSUPP));
        Assert.That(space.Mmap(P(2), L(1), Rw, MapFlags.ShareValidate | MapFlags.FixedNoReplace, file, 0, out _), Is.EqualTo(Errno.EOPNOTSUPP));
        Assert.That(space.Mmap(P(2), L(1), Rw, validate | (MapFlags)0x200, file, 0, out _), Is.EqualTo(Errno.EOPNOTSUPP));
        Assert.That(space.Mmap(P(2), L(1), Rw, MapFlags.Shared | MapFlags.Fixed | (MapFlags)0x200, file, 0, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Mmap(P(4), L(1), Rw, validate | MapFlags.Anonymous, out _), Is.EqualTo(Errno.EINVAL));
        Assert.That(space.MapCount, Is.EqualTo(2));
    }

    /// <summary>MAP_SYNC sets VM_SYNC on any mapping (only MAP_SHARED_VALIDATE checks it), so it blocks merges.</summary>
    [Test]
    public void MmapSync_SetsVmSyncWhichBlocksMerging()
    {
        using var space = new AddressSpace();
        Assert.That(space.Mmap(P(0), L(2), Prot.Read, AnonFixed | MapFlags.Sync, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Mmap(P(2), L(2), Prot.Read, AnonFixed, out _), Is.EqualTo(Errno.None));
        Assert.That(space.MapCount, Is.EqualTo(2));
        Assert.That(space.Snapshot()[0].Flags & VmFlags.Sync, Is.EqualTo(VmFlags.Sync));
        Assert.That(space.Mmap(P(4), L(2), Prot.Read, AnonFixed | MapFlags.Sync, out _), Is.EqualTo(Errno.None));
        Assert.That(space.MapCount, Is.EqualTo(3));
    }
}
