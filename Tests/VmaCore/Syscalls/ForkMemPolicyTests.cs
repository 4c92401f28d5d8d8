using NUnit.Framework;
using VmaEngine.Vma;
using static Tests.VmaCore.Syscalls.Layout;

namespace Tests.VmaCore.Syscalls;

/// <summary>
/// NUMA policies across <see cref="AddressSpace.Fork"/>: <c>dup_mmap</c> gives each child VMA a copy of its parent's
/// policy (<c>vma_dup_policy</c>, an allocation that can fail), and merges compare policies by content
/// (<c>mpol_equal</c>), in the parent and in the child. The live-policy count is process-wide, hence
/// non-parallelizable.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed unsafe class ForkMemPolicyTests
{
    private const Prot Rw = Prot.Read | Prot.Write;
    private const MapFlags AnonFixed = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;

    /// <summary>Gives the VMA at <paramref name="page"/> a policy of its own, as mbind would.</summary>
    private static void SetPolicy(AddressSpace space, ulong page, int mode, ulong nodes)
    {
        space.MmapLock.WriteLock();
        try
        {
            VmArea* vma = space.VmaLookup(P(page));
            MemPolicy.Put(vma->VmPolicy);
            vma->VmPolicy = MemPolicy.Create(mode, nodes);
        }
        finally
        {
            space.MmapLock.WriteUnlock();
        }
    }

    /// <summary>0-4 rw and 4-8 rwx, each with a policy: equal contents in distinct objects, or different contents.</summary>
    private static AddressSpace TwoPolicyVmas(bool samePolicy)
    {
        var space = new AddressSpace();
        Assert.That(space.Mmap(P(0), L(4), Rw, AnonFixed, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Mmap(P(4), L(4), Rw | Prot.Exec, AnonFixed, out _), Is.EqualTo(Errno.None));
        SetPolicy(space, 0, 2, 1);
        SetPolicy(space, 4, 2, samePolicy ? 1UL : 2UL);
        return space;
    }

    private static AddressSpace ForkOf(AddressSpace parent)
    {
        Assert.That(parent.Fork(out AddressSpace? child), Is.EqualTo(Errno.None));
        return child!;
    }

    [Test]
    public void TheChildGetsACopyOfEachPolicy_WhichOutlivesTheParent()
    {
        long before = MemPolicy.Live;
        AddressSpace parent = TwoPolicyVmas(samePolicy: true);
        Assert.That(MemPolicy.Live, Is.EqualTo(before + 2));
        AddressSpace child = ForkOf(parent);
        Assert.That(MemPolicy.Live, Is.EqualTo(before + 4), "two copies");
        MemPolicy* parentPolicy = parent.VmaLookup(P(0))->VmPolicy;
        MemPolicy* childPolicy = child.VmaLookup(P(0))->VmPolicy;
        Assert.That((nint)childPolicy, Is.Not.EqualTo((nint)parentPolicy));
        Assert.That(MemPolicy.Equal(childPolicy, parentPolicy), Is.True);
        Assert.That(childPolicy->RefCount, Is.EqualTo(1));
        parent.Dispose();
        Assert.That(MemPolicy.Live, Is.EqualTo(before + 2), "the child's copies live on");
        Assert.That(childPolicy->Mode, Is.EqualTo(2));
        child.Dispose();
        Assert.That(MemPolicy.Live, Is.EqualTo(before));
    }

    /// <summary>
    /// After fork, mprotect makes 4-8 compatible with 0-4 in each address space: they merge when the policies have
    /// equal contents, though every VMA now holds a policy object of its own, and stay apart when they differ. A
    /// split and its undoing in the child merge back, the split copy comparing equal.
    /// </summary>
    [Test]
    public void MergesAfterForkCompareContents_InParentAndChild([Values] bool samePolicy)
    {
        using AddressSpace parent = TwoPolicyVmas(samePolicy);
        using AddressSpace child = ForkOf(parent);
        string expected = samePolicy
            ? "0-8 rw-p - - ac,me,mr,mw,rd,wr"
            : "0-4 rw-p - - ac,me,mr,mw,rd,wr | 4-8 rw-p - - ac,me,mr,mw,rd,wr";
        Assert.That(child.Mprotect(P(4), L(4), Rw), Is.EqualTo(Errno.None));
        Assert.That(Of(child), Is.EqualTo(expected), "child");
        Assert.That(parent.Mprotect(P(4), L(4), Rw), Is.EqualTo(Errno.None));
        Assert.That(Of(parent), Is.EqualTo(expected), "parent");

        Assert.That(child.Mprotect(P(1), L(1), Prot.Read), Is.EqualTo(Errno.None));
        Assert.That(child.MapCount, Is.EqualTo(samePolicy ? 3 : 4));
        Assert.That(child.Mprotect(P(1), L(1), Rw), Is.EqualTo(Errno.None));
        Assert.That(Of(child), Is.EqualTo(expected), "the split piece merges back");
    }

    /// <summary>Each policy copy is an allocation point of fork: ENOMEM, no copy left behind, the parent unchanged.</summary>
    [Test]
    public void FailureAtEachAllocation_LeavesNoPolicyCopy()
    {
        using AddressSpace parent = TwoPolicyVmas(samePolicy: false);
        Assert.That(parent.Touch(P(0), L(8)), Is.EqualTo(Errno.None));
        string before = Of(parent);
        long live = MemPolicy.Live;
        parent.Faults.ResetCount();
        ForkOf(parent).Dispose();
        int allocations = parent.Faults.AllocationsSeen;
        for (int k = 0; k < allocations; k++)
        {
            parent.Faults.FailAfter(k);
            Assert.That(parent.Fork(out AddressSpace? child), Is.EqualTo(Errno.ENOMEM), $"allocation {k}");
            Assert.That(child, Is.Null);
            Assert.That(MemPolicy.Live, Is.EqualTo(live), $"allocation {k}: no policy copy leaked");
            Assert.That(Of(parent), Is.EqualTo(before));
        }

        parent.Faults.FailAfter(-1);
    }
}
