using System.Runtime.InteropServices;
using NUnit.Framework;
using VmaEngine.Vma;

namespace Tests.VmaCore.Area;

/// <summary><c>struct vm_area_struct</c>'s x86-64 layout in Linux v6.15, field for field.</summary>
[TestFixture]
public unsafe class VmAreaLayoutTests
{
    [TestCase(nameof(VmArea.VmStart), 0)]
    [TestCase(nameof(VmArea.VmFreePtr), 0)]
    [TestCase(nameof(VmArea.VmEnd), 8)]
    [TestCase(nameof(VmArea.VmMm), 16)]
    [TestCase(nameof(VmArea.VmPageProt), 24)]
    [TestCase(nameof(VmArea.VmFlags), 32)]
    [TestCase(nameof(VmArea.VmLockSeq), 40)]
    [TestCase(nameof(VmArea.AnonVmaChain), 48)]
    [TestCase(nameof(VmArea.AnonVma), 64)]
    [TestCase(nameof(VmArea.VmOps), 72)]
    [TestCase(nameof(VmArea.VmPgoff), 80)]
    [TestCase(nameof(VmArea.VmFile), 88)]
    [TestCase(nameof(VmArea.VmPrivateData), 96)]
    [TestCase(nameof(VmArea.SwapReadaheadInfo), 104)]
    [TestCase(nameof(VmArea.VmPolicy), 112)]
    [TestCase(nameof(VmArea.NumabState), 120)]
    [TestCase(nameof(VmArea.VmRefcnt), 128)]
    [TestCase(nameof(VmArea.Shared), 136)]
    [TestCase(nameof(VmArea.AnonVmaName), 168)]
    [TestCase(nameof(VmArea.VmUserfaultfdCtx), 176)]
    public void FieldIsAtTheKernelOffset(string field, int offset)
    {
        Assert.That((int)Marshal.OffsetOf<VmArea>(field), Is.EqualTo(offset));
    }

    [Test]
    public void SizeIsThreeCacheLinesAndRefcountStartsTheThird()
    {
        Assert.That(sizeof(VmArea), Is.EqualTo(192));
        Assert.That(VmArea.Size, Is.EqualTo(192));
        Assert.That((int)Marshal.OffsetOf<VmArea>(nameof(VmArea.VmRefcnt)) % 64, Is.Zero);
    }

    [Test]
    public void EmbeddedStructsHaveTheKernelSizes()
    {
        Assert.That(sizeof(ListHead), Is.EqualTo(16), "anon_vma_chain is a list_head");
        Assert.That(sizeof(VmaShared), Is.EqualTo(32), "shared is an rb node plus rb_subtree_last");
    }

    [Test]
    public void FieldTypesAreTheKernelWidths()
    {
        var vma = default(VmArea);
        Assert.That(sizeof(ulong), Is.EqualTo(sizeof(VmFlags)));
        vma.VmFlags = VmFlags.Read | VmFlags.Write | VmFlags.Exec;
        Assert.That((ulong)vma.VmFlags, Is.EqualTo(7UL));
        vma.VmLockSeq = uint.MaxValue;
        Assert.That(vma.VmRefcnt, Is.Zero, "the lock sequence does not overlap the refcount");
    }

    [Test]
    public void FreePointerOverlaysVmStart()
    {
        var vma = default(VmArea);
        vma.VmFreePtr = (void*)0x1234_5000;
        Assert.That(vma.VmStart, Is.EqualTo(0x1234_5000UL));
        Assert.That(vma.VmEnd, Is.Zero);
    }

    [TestCase(VmFlags.Read, 0x1UL)]
    [TestCase(VmFlags.Write, 0x2UL)]
    [TestCase(VmFlags.Exec, 0x4UL)]
    [TestCase(VmFlags.Shared, 0x8UL)]
    [TestCase(VmFlags.MayRead, 0x10UL)]
    [TestCase(VmFlags.GrowsDown, 0x100UL)]
    [TestCase(VmFlags.Locked, 0x2000UL)]
    [TestCase(VmFlags.DontCopy, 0x20000UL)]
    [TestCase(VmFlags.Account, 0x100000UL)]
    [TestCase(VmFlags.NoReserve, 0x200000UL)]
    [TestCase(VmFlags.WipeOnFork, 0x2000000UL)]
    [TestCase(VmFlags.DontDump, 0x4000000UL)]
    [TestCase(VmFlags.SoftDirty, 0x8000000UL)]
    [TestCase(VmFlags.HugePage, 0x20000000UL)]
    [TestCase(VmFlags.NoHugePage, 0x40000000UL)]
    [TestCase(VmFlags.Special, 0x10044400UL)]
    public void FlagHasTheKernelBitValue(VmFlags flag, ulong value)
    {
        Assert.That((ulong)flag, Is.EqualTo(value));
    }
}
