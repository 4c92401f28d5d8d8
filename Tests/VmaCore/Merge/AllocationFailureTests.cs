using System;
using System.Runtime.InteropServices;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Merge;
using VmaEngine.Vma.Tree;
using static Tests.VmaCore.Merge.VmaTestMm;

namespace Tests.VmaCore.Merge;

/// <summary>
/// An allocation failure injected at every allocation point of each operation of the merge engine (tree
/// preallocation, VMA, anon_vma, anon_vma_chain, the unmap's detach list): for k = 0, 1, 2, ... the k-th allocation
/// fails, until the operation runs through without reaching an injected failure. After a failure the mm must be
/// exactly as before (VMAs, tree, counts, anon_vmas, references, slab objects); where the kernel itself keeps splits
/// made before the failure (vma_modify, munmap) or leaves a hole (a MAP_FIXED mmap that fails after the old mappings'
/// page tables were cleared), the observable layout must be what the kernel leaves.
/// </summary>
[TestFixture]
[NonParallelizable]
public unsafe class AllocationFailureTests
{
    private enum OnFailure
    {
        /// <summary>Everything exactly as before.</summary>
        Exact,

        /// <summary>The same layout; splits made before the failure may remain.</summary>
        SameLayout,

        /// <summary>The same layout, or the same with the operation's range unmapped.</summary>
        SameLayoutOrHole,
    }

    [Test]
    public void MergeNewRangeWithFaultedNext()
    {
        // PP*NN, next faulted: prev takes next's anon_vma (a chain link), then the tree is preallocated.
        InjectEveryFailure(
            t =>
            {
                t.AllocAndLinkVma(0x1000, 0x3000, 1);
                t.NewAnonVma(t.AllocAndLinkVma(0x4000, 0x6000, 4));
            },
            t =>
            {
                VmaMergeState vmg = t.NewMergeState();
                vmg.SetRange(0x3000, 0x4000, 3, F);
                return t.MergeNew(ref vmg) != null ? Errno.None : Errno.ENOMEM;
            },
            OnFailure.Exact);
    }

    [Test]
    public void MergeExistingRangeLeftPartial()
    {
        // PPVVVV, the first two pages of faulted V become like P.
        InjectEveryFailure(
            t =>
            {
                t.AllocAndLinkVma(0x1000, 0x3000, 1);
                t.NewAnonVma(t.AllocAndLinkVma(0x3000, 0x7000, 3));
            },
            t => MergeExisting(t, 0x3000, 0x5000),
            OnFailure.Exact);
    }

    [Test]
    public void MergeExistingRangeRightPartial()
    {
        // VVVVNN, the last two pages of faulted V become like N.
        InjectEveryFailure(
            t =>
            {
                t.NewAnonVma(t.AllocAndLinkVma(0x1000, 0x5000, 1));
                t.AllocAndLinkVma(0x5000, 0x7000, 5);
            },
            t => MergeExisting(t, 0x3000, 0x5000),
            OnFailure.Exact);
    }

    [Test]
    public void MergeExistingRangeBoth()
    {
        // PPVVNN, all of faulted V: P swallows V and N.
        InjectEveryFailure(
            t =>
            {
                t.AllocAndLinkVma(0x1000, 0x3000, 1);
                t.NewAnonVma(t.AllocAndLinkVma(0x3000, 0x5000, 3));
                t.AllocAndLinkVma(0x5000, 0x7000, 5);
            },
            t => MergeExisting(t, 0x3000, 0x5000),
            OnFailure.Exact);
    }

    [Test]
    public void ExpandOverFaultedNext()
    {
        InjectEveryFailure(
            t =>
            {
                t.AllocAndLinkVma(0x1000, 0x3000, 1);
                t.NewAnonVma(t.AllocAndLinkVma(0x3000, 0x5000, 3));
            },
            t =>
            {
                VmaMergeState vmg = t.NewMergeState();
                vmg.SetRange(0x1000, 0x5000, 1, F);
                vmg.Middle = t.Mm.VmaLookup(0x1000);
                vmg.Next = t.Mm.VmaLookup(0x3000);
                return t.Mm.Expand(ref vmg);
            },
            OnFailure.Exact);
    }

    [Test]
    public void SplitFaultedFileVma([Values] bool newBelow)
    {
        // A VMA with every reference: file, policy, name, anon_vma. The new VMA takes a reference on each, and a copy
        // of the policy.
        VmFile* file = (VmFile*)NativeMemory.AllocZeroed((nuint)sizeof(VmFile));
        file->RefCount = 1;
        MemPolicy* policy = MemPolicy.Create(1, 3);
        AnonVmaName* name = AnonVmaName.Create(7);
        long livePolicies = MemPolicy.Live;
        try
        {
            InjectEveryFailure(
                t =>
                {
                    VmArea* vma = t.AllocVma(0x1000, 0x5000, 1);
                    vma->VmFile = FileRef.Get(file);
                    vma->VmPolicy = MemPolicy.Get(policy);
                    vma->AnonVmaName = AnonVmaName.Get(name);
                    Assert.That(t.AttachVma(vma), Is.EqualTo(Errno.None));
                    t.NewAnonVma(vma);
                },
                t =>
                {
                    t.Vmi.Set(0x1000);
                    return t.Mm.SplitVma(ref t.Vmi, t.Mm.VmaLookup(0x1000), 0x3000, newBelow);
                },
                OnFailure.Exact);
            Assert.That(file->RefCount, Is.EqualTo(1), "every file reference was dropped");
            Assert.That(policy->RefCount, Is.EqualTo(1), "every policy reference was dropped");
            Assert.That(MemPolicy.Live, Is.EqualTo(livePolicies), "every policy copy (vma_dup_policy) was freed");
            Assert.That(name->RefCount, Is.EqualTo(1), "every name reference was dropped");
        }
        finally
        {
            NativeMemory.Free(file);
            MemPolicy.Put(policy);
            AnonVmaName.Put(name);
        }
    }

    [Test]
    public void ModifyFlagsSplitsBothEnds()
    {
        InjectEveryFailure(
            t => t.NewAnonVma(t.AllocAndLinkVma(0x1000, 0x6000, 1)),
            t =>
            {
                t.Vmi.Set(0x2000);
                VmArea* vma = t.Mm.VmaLookup(0x2000);
                return t.Mm.ModifyFlags(ref t.Vmi, vma, vma, 0x2000, 0x4000, F | VmFlags.Locked, out Errno error) != null ? Errno.None : error;
            },
            OnFailure.SameLayout);
    }

    [Test]
    public void MunmapMiddleOfFaultedVma()
    {
        InjectEveryFailure(
            t => t.NewAnonVma(t.AllocAndLinkVma(0x1000, 0x6000, 1)),
            t =>
            {
                t.Vmi.Set(0x2000);
                return t.Mm.DoVmiMunmap(ref t.Vmi, 0x2000, 0x2000);
            },
            OnFailure.SameLayout);
    }

    [Test]
    public void MunmapAcrossThreeVmas()
    {
        InjectEveryFailure(
            t =>
            {
                t.NewAnonVma(t.AllocAndLinkVma(0x1000, 0x4000, 1));
                t.AllocAndLinkVma(0x4000, 0x6000, 4, F | VmFlags.Exec);
                t.NewAnonVma(t.AllocAndLinkVma(0x6000, 0x9000, 6));
            },
            t =>
            {
                t.Vmi.Set(0x2000);
                return t.Mm.DoVmiMunmap(ref t.Vmi, 0x2000, 0x6000);
            },
            OnFailure.SameLayout);
    }

    [Test]
    public void MmapRegionFixedOverFaultedVmas()
    {
        InjectEveryFailure(
            t =>
            {
                t.NewAnonVma(t.AllocAndLinkVma(0x10000, 0x14000, 0x10));
                t.AllocAndLinkVma(0x14000, 0x18000, 0x14, F | VmFlags.Exec);
            },
            t => t.Mm.MmapRegion(null, 0x12000, 0x4000, F, 0x12, out _),
            OnFailure.SameLayoutOrHole,
            0x12000,
            0x16000);
    }

    [Test]
    public void MmapRegionInAnEmptyMm()
    {
        InjectEveryFailure(_ => { }, t => t.Mm.MmapRegion(null, 0x10000, 0x4000, F, 0x10, out _), OnFailure.Exact);
    }

    [Test]
    public void CopyFaultedVmaWithoutMerge()
    {
        InjectEveryFailure(
            t => t.NewAnonVma(t.AllocAndLinkVma(0x10000, 0x12000, 0x10)),
            t =>
            {
                VmArea* vma = t.Mm.VmaLookup(0x10000);
                return t.Mm.CopyVma(ref vma, 0x20000, 0x2000, 0x10, out _) != null ? Errno.None : Errno.ENOMEM;
            },
            OnFailure.Exact);
    }

    [Test]
    public void CopyVmaMergingIntoNext()
    {
        // When the merge cannot allocate, copy_vma falls back to a new VMA, as the kernel does: the copy succeeds.
        InjectEveryFailure(
            t =>
            {
                t.AllocAndLinkVma(0x10000, 0x12000, 0x10);
                t.NewAnonVma(t.AllocAndLinkVma(0x22000, 0x24000, 0x22));
            },
            t =>
            {
                VmArea* vma = t.Mm.VmaLookup(0x10000);
                return t.Mm.CopyVma(ref vma, 0x20000, 0x2000, 0x20, out _) != null ? Errno.None : Errno.ENOMEM;
            },
            OnFailure.Exact,
            absorbsFailures: true);
    }

    [Test]
    public void BrkNewVmaAndExpand([Values] bool expand)
    {
        const VmFlags brkFlags = AddressSpace.DataDefaultFlags | VmFlags.Account;
        InjectEveryFailure(
            t => t.AllocAndLinkVma(0x10000, 0x12000, 0x10, expand ? brkFlags : F),
            t =>
            {
                t.Vmi.Set(0x10000);
                VmArea* brk = t.Vmi.Load();
                return t.Mm.DoBrkFlags(ref t.Vmi, brk, 0x12000, 0x2000, VmFlags.None);
            },
            OnFailure.Exact);
    }

    [Test]
    public void AnonVmaPrepare([Values] bool reuseNeighbours)
    {
        InjectEveryFailure(
            t =>
            {
                t.NewAnonVma(t.AllocAndLinkVma(0x10000, 0x12000, 0x10));
                t.AllocAndLinkVma(0x12000, 0x14000, 0x12, reuseNeighbours ? F | VmFlags.Exec : F | VmFlags.Locked);
            },
            t =>
            {
                Errno error = t.Mm.AnonVmaPrepare(t.Mm.VmaLookup(0x12000));
                if (error == Errno.None)
                {
                    bool shared = t.Mm.VmaLookup(0x12000)->AnonVma == t.Mm.VmaLookup(0x10000)->AnonVma;
                    Assert.That(shared, Is.EqualTo(reuseNeighbours), "find_mergeable_anon_vma");
                }

                return error;
            },
            OnFailure.Exact);
    }

    [Test]
    public void MergeExtend()
    {
        InjectEveryFailure(
            t =>
            {
                t.NewAnonVma(t.AllocAndLinkVma(0x10000, 0x12000, 0x10));
                t.AllocAndLinkVma(0x14000, 0x16000, 0x14);
            },
            t =>
            {
                t.Vmi.Set(0x12000);
                return t.Mm.VmaMergeExtend(ref t.Vmi, t.Mm.VmaLookup(0x10000), 0x2000) != null ? Errno.None : Errno.ENOMEM;
            },
            OnFailure.Exact);
    }

    [Test]
    public void Shrink()
    {
        InjectEveryFailure(
            t => t.NewAnonVma(t.AllocAndLinkVma(0x10000, 0x14000, 0x10)),
            t => t.Mm.Shrink(ref t.Vmi, t.Mm.VmaLookup(0x10000), 0x12000, 0x14000, 0x12),
            OnFailure.Exact);
    }

    private static Errno MergeExisting(VmaTestMm t, ulong start, ulong end)
    {
        VmaMergeState vmg = t.NewMergeState();
        VmArea* vma = t.Mm.VmaLookup(start);
        var vmi = new VmaIterator(t.Mm, vma->VmStart);
        VmArea* prev = start > vma->VmStart ? vma : vmi.Prev();
        t.Vmi.Set(start);
        vmg = new VmaMergeState(ref t.Vmi, prev, vma, start, end) { Flags = F };

        // Propose no anon_vma, as the kernel tests do, so that v6.15 merges the faulted range with its neighbours.
        vmg.AnonVma = null;
        return t.MergeExisting(ref vmg) != null ? Errno.None : vmg.NoMem ? Errno.ENOMEM : Errno.EINVAL;
    }

    private static void InjectEveryFailure(
        Action<VmaTestMm> setup, Func<VmaTestMm, Errno> operation, OnFailure onFailure, ulong holeStart = 0, ulong holeEnd = 0, bool absorbsFailures = false)
    {
        string[] slabBaseline = MmSnapshot.SlabCounts();
        int failures = 0;
        for (int k = 0; ; k++)
        {
            Assert.That(k, Is.LessThan(64), "the operation never completed without an injected failure");
            using (var t = new VmaTestMm())
            {
                setup(t);
                string[] before = MmSnapshot.Take(t.Mm);
                string[] layoutBefore = MmSnapshot.Layout(t.Mm);
                string[] layoutBeforeWithHole = MmSnapshot.Layout(t.Mm, holeStart, holeEnd);
                t.Mm.Faults.ResetCount();
                t.Mm.Faults.FailAfter(k);
                Errno result = operation(t);
                bool injected = t.Mm.Faults.AllocationsSeen > k;
                t.Mm.Faults.FailAfter(-1);
                MmSnapshot.AssertConsistent(t.Mm);
                if (!injected)
                {
                    Assert.That(result, Is.EqualTo(Errno.None), "the operation failed without an injected failure");
                    Assert.That(failures > 0 || absorbsFailures, "no allocation point failed the operation");
                    t.CleanupMm();
                    break;
                }

                if (result != Errno.None)
                {
                    failures++;
                    Assert.That(result, Is.EqualTo(Errno.ENOMEM), $"failure at allocation {k}");
                    string[] layout = MmSnapshot.Layout(t.Mm);
                    switch (onFailure)
                    {
                        case OnFailure.Exact:
                            Assert.That(MmSnapshot.Take(t.Mm), Is.EqualTo(before), $"the mm changed after a failure at allocation {k}");
                            break;
                        case OnFailure.SameLayout:
                            Assert.That(layout, Is.EqualTo(layoutBefore), $"the layout changed after a failure at allocation {k}");
                            break;
                        default:
                            Assert.That(
                                layout.AsSpan().SequenceEqual(layoutBefore) || layout.AsSpan().SequenceEqual(layoutBeforeWithHole),
                                $"after a failure at allocation {k} the layout is neither the old one nor the old one with a hole");
                            break;
                    }
                }

                t.CleanupMm();
            }
        }

        Assert.That(MmSnapshot.SlabCounts(), Is.EqualTo(slabBaseline), "slab objects leaked");
    }
}
