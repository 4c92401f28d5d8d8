using System.Collections.Generic;
using System.Threading;
using NUnit.Framework;
using Tests.VmaCore.Merge;
using VmaEngine.Slab;
using VmaEngine.Vma;
using VmaEngine.Vma.Files;
using VmaEngine.Vma.Tree;
using static Tests.VmaCore.Syscalls.Layout;

namespace Tests.VmaCore.Syscalls;

/// <summary>
/// <see cref="AddressSpace.Fork"/> (<c>dup_mmap</c>, <c>anon_vma_fork</c>): what the child gets, the anon_vma
/// hierarchy and its counts as the kernel keeps them, allocation failure at each point, and the independence of the
/// two address spaces' lifetimes. The slab counts are process-wide, hence non-parallelizable.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed unsafe class ForkTests
{
    private const Prot Rw = Prot.Read | Prot.Write;
    private const MapFlags AnonPrivate = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;

    private static AddressSpace V615() => new(AddressSpaceOptions.ForProfile("v6.15"));

    private static AddressSpace Host() => new(AddressSpaceOptions.ForProfile("oracle-host"));

    private static void Map(AddressSpace space, ulong page, ulong pages, Prot prot = Rw)
    {
        Assert.That(space.Mmap(P(page), L(pages), prot, AnonPrivate, out _), Is.EqualTo(Errno.None));
    }

    private static void Touch(AddressSpace space, ulong page, ulong pages) =>
        Assert.That(space.Touch(P(page), L(pages)), Is.EqualTo(Errno.None));

    private static AddressSpace ForkOf(AddressSpace parent)
    {
        Assert.That(parent.Fork(out AddressSpace? child), Is.EqualTo(Errno.None));
        Assert.That(child, Is.Not.Null);
        return child!;
    }

    private static VmArea* At(AddressSpace space, ulong page) => space.VmaLookup(P(page));

    /// <summary>Every slab count that fork and dispose change, after deferred frees have run.</summary>
    private static string[] SlabCounts()
    {
        Rcu.Barrier();
        Rcu.Barrier();
        return [.. MmSnapshot.SlabCounts(), $"slab maple_node {VmaTree.NodeCacheInfo.ActiveObjects}"];
    }

    /// <summary>A parent with one VMA of each kind fork treats differently, over a tree of more than one level.</summary>
    private static AddressSpace RichParent(FileRegistry files)
    {
        AddressSpace parent = V615();
        for (ulong i = 0; i < 40; i++)
        {
            Map(parent, 100 + (2 * i), 1, i % 3 == 0 ? Prot.Read : Rw);
            if (i % 3 == 1)
            {
                Touch(parent, 100 + (2 * i), 1);
            }
        }

        Map(parent, 0, 8);
        Touch(parent, 0, 8);
        Assert.That(parent.Mprotect(P(2), L(2), Prot.Read), Is.EqualTo(Errno.None));
        Map(parent, 10, 4);
        Touch(parent, 10, 4);
        Assert.That(parent.Madvise(P(10), L(4), Advice.DontFork), Is.EqualTo(Errno.None));
        Map(parent, 16, 4);
        Touch(parent, 16, 4);
        Assert.That(parent.Madvise(P(16), L(4), Advice.WipeOnFork), Is.EqualTo(Errno.None));
        Map(parent, 22, 4);
        Assert.That(parent.Mlock(P(22), L(4)), Is.EqualTo(Errno.None));
        Map(parent, 28, 4);
        Assert.That(parent.SetAnonName(P(28), L(4), "heap"), Is.EqualTo(Errno.None));
        MappedFile file = files.Open("data", 16);
        Assert.That(parent.Mmap(P(40), L(8), Rw, MapFlags.Private | MapFlags.Fixed, file, 0, out _), Is.EqualTo(Errno.None));
        Touch(parent, 40, 2);
        Assert.That(parent.Mmap(P(50), L(4), Rw, MapFlags.Shared | MapFlags.Anonymous | MapFlags.Fixed, out _), Is.EqualTo(Errno.None));
        return parent;
    }

    [Test]
    public void Child_CopiesEveryVma_ButDontCopy_ClearsLocks_KeepsWipeOnFork()
    {
        using var files = new FileRegistry();
        using AddressSpace parent = RichParent(files);
        string parentBefore = Of(parent);
        string[] before = MmSnapshot.Take(parent);

        using AddressSpace child = ForkOf(parent);
        Assert.That(MmSnapshot.Take(parent), Is.Not.EqualTo(before), "the parent's shared objects gained references");
        Assert.That(Of(parent), Is.EqualTo(parentBefore), "the parent's layout is unchanged");
        Assert.That(child.MapCount, Is.EqualTo(parent.MapCount - 1), "map_count counts the copies only");
        string expected = parentBefore
            .Replace(" | 10-14 rw-p - - ac,dc,me,mr,mw,rd,wr", string.Empty, System.StringComparison.Ordinal)
            .Replace("22-26 rw-p - - ac,lo,me,mr,mw,rd,wr", "22-26 rw-p - - ac,me,mr,mw,rd,wr", System.StringComparison.Ordinal);
        Assert.That(parentBefore, Does.Contain("16-20 rw-p - - ac,me,mr,mw,rd,wf,wr"));
        Assert.That(Of(child), Is.EqualTo(expected));
        Assert.That(child.Options, Is.SameAs(parent.Options));
        Assert.That((nint)At(child, 40)->VmFile, Is.EqualTo((nint)At(parent, 40)->VmFile), "the file is shared");
        Assert.That(At(parent, 40)->VmFile->RefCount, Is.EqualTo(3), "the registry's handle, the parent's VMA and the child's");
        Assert.That((nint)At(child, 50)->VmFile, Is.EqualTo((nint)At(parent, 50)->VmFile), "the shared anonymous object is shared");
        Assert.That((nint)At(child, 28)->AnonVmaName, Is.EqualTo((nint)At(parent, 28)->AnonVmaName), "the name is shared");
        Assert.That(At(parent, 28)->AnonVmaName->RefCount, Is.EqualTo(2));
        child.Tree.Validate();
    }

    [Test]
    public void WipeOnFork_ChildStartsWithoutAnonVma()
    {
        using AddressSpace parent = Host();
        Map(parent, 0, 4);
        Touch(parent, 0, 4);
        Assert.That(parent.Madvise(P(0), L(4), Advice.WipeOnFork), Is.EqualTo(Errno.None));
        using AddressSpace child = ForkOf(parent);
        VmArea* vma = At(child, 0);
        Assert.That((nint)vma->AnonVma, Is.EqualTo(nint.Zero));
        Assert.That(ListHead.IsEmpty(&vma->AnonVmaChain), Is.True);
        Touch(child, 0, 1);
        Assert.That((nint)vma->AnonVma->Root, Is.EqualTo((nint)vma->AnonVma), "the first fault gives it a root of its own");
        Assert.That((nint)vma->AnonVma, Is.Not.EqualTo((nint)At(parent, 0)->AnonVma));
    }

    [Test]
    public void AnonVmaFork_NewAnonVmaBelowTheParents()
    {
        using AddressSpace parent = V615();
        Map(parent, 0, 4);
        Touch(parent, 0, 4);
        AnonVma* parentAnon = At(parent, 0)->AnonVma;
        using AddressSpace child = ForkOf(parent);
        VmArea* vma = At(child, 0);
        AnonVma* anon = vma->AnonVma;
        Assert.That((nint)anon, Is.Not.EqualTo((nint)parentAnon));
        Assert.That((nint)anon->Parent, Is.EqualTo((nint)parentAnon));
        Assert.That((nint)anon->Root, Is.EqualTo((nint)parentAnon));
        Assert.That(parentAnon->NumChildren, Is.EqualTo(2), "itself and the child's");
        Assert.That(parentAnon->RefCount, Is.EqualTo(2), "its own and the child's pin on the root");
        Assert.That(parentAnon->NumActiveVmas, Is.EqualTo(1));
        Assert.That(parentAnon->ChainCount, Is.EqualTo(2));
        Assert.That(anon->NumChildren, Is.Zero);
        Assert.That(anon->NumActiveVmas, Is.EqualTo(1));
        Assert.That(anon->RefCount, Is.EqualTo(1));
        Assert.That(ListHead.IsSingular(&vma->AnonVmaChain), Is.False, "linked to the parent's anon_vma and its own");
    }

    [Test]
    public void AnonVmaClone_ReusesAnAnonVmaNoVmaUses()
    {
        // P forks C, C forks G, C exits: C's anon_vma B has no active VMA and one child. G's fork H takes B over.
        using AddressSpace parent = V615();
        Map(parent, 0, 4);
        Touch(parent, 0, 4);
        AddressSpace child = ForkOf(parent);
        AnonVma* b = At(child, 0)->AnonVma;
        using AddressSpace grandchild = ForkOf(child);
        AnonVma* d = At(grandchild, 0)->AnonVma;
        Assert.That((nint)d->Parent, Is.EqualTo((nint)b));
        child.Dispose();
        Assert.That(b->NumActiveVmas, Is.Zero);
        Assert.That(b->NumChildren, Is.EqualTo(1));
        long anonVmas = AnonVmaCache.AnonVmas.Info.ActiveObjects;
        using AddressSpace greatGrandchild = ForkOf(grandchild);
        Assert.That((nint)At(greatGrandchild, 0)->AnonVma, Is.EqualTo((nint)b), "anon_vma_clone's reuse");
        Assert.That(b->NumActiveVmas, Is.EqualTo(1));
        Assert.That(AnonVmaCache.AnonVmas.Info.ActiveObjects, Is.EqualTo(anonVmas), "no anon_vma allocated");
    }

    [Test]
    public void SharedAnonVma_ChildVmasNoLongerMerge([Values("v6.15", "oracle-host")] string profile)
    {
        // NOTES.md item 10: mmap 0 8 rw; touch 0 8; mprotect 2 2 r; fork; mprotect 2 2 rw.
        using var parent = new AddressSpace(AddressSpaceOptions.ForProfile(profile));
        Map(parent, 0, 8);
        Touch(parent, 0, 8);
        Assert.That(parent.Mprotect(P(2), L(2), Prot.Read), Is.EqualTo(Errno.None));
        using AddressSpace child = ForkOf(parent);
        Assert.That(child.Mprotect(P(2), L(2), Rw), Is.EqualTo(Errno.None));
        Assert.That(child.MapCount, Is.EqualTo(3), "three anon_vmas of their own");
        Assert.That(parent.Mprotect(P(2), L(2), Rw), Is.EqualTo(Errno.None));
        Assert.That(parent.MapCount, Is.EqualTo(1), "the parent's VMAs share one and merge");
    }

    /// <summary>
    /// Guard markers live in the page tables, and fork copies them with the page tables (<c>copy_page_range</c>
    /// keeps guard PTE markers): in every copied VMA, file-backed and shared ones too, since installing markers gives
    /// the VMA an anon_vma and <c>vma_needs_copy</c> then copies; not in VM_WIPEONFORK VMAs, whose page tables are
    /// not copied; VM_DONTCOPY VMAs are absent. On this repository's oracle machine (Linux 6.18) a forked child
    /// reading the guard page got SIGSEGV in private, shared, file-private, file-shared and read-only VMAs, and read
    /// it normally in a VM_WIPEONFORK one.
    /// </summary>
    [Test]
    public void GuardMarkers_CopiedWithThePageTables_ButNotIntoWipeOnForkVmas()
    {
        using var files = new FileRegistry();
        using AddressSpace parent = Host();
        MappedFile file = files.Open("data", 16);
        Map(parent, 0, 4);
        Map(parent, 10, 4, Prot.Read);
        Assert.That(parent.Mmap(P(20), L(4), Rw, MapFlags.Shared | MapFlags.Fixed, file, 0, out _), Is.EqualTo(Errno.None));
        Assert.That(parent.Mmap(P(30), L(4), Rw, MapFlags.Private | MapFlags.Fixed, file, L(4), out _), Is.EqualTo(Errno.None));
        Assert.That(parent.Mmap(P(40), L(4), Rw, MapFlags.Shared | MapFlags.Anonymous | MapFlags.Fixed, out _), Is.EqualTo(Errno.None));
        Map(parent, 50, 4);
        Assert.That(parent.Madvise(P(50), L(4), Advice.WipeOnFork), Is.EqualTo(Errno.None));
        Map(parent, 60, 4);
        Assert.That(parent.Madvise(P(60), L(4), Advice.DontFork), Is.EqualTo(Errno.None));
        ulong[] starts = [0, 10, 20, 30, 40, 50, 60];
        foreach (ulong start in starts)
        {
            Assert.That(parent.Madvise(P(start + 1), L(2), Advice.GuardInstall), Is.EqualTo(Errno.None), $"page {start}");
        }

        using AddressSpace child = ForkOf(parent);
        foreach (ulong start in starts[..5])
        {
            Assert.That(child.Fault(P(start + 1), FaultAccess.Read), Is.EqualTo(FaultResult.SegvMapErr), $"child, VMA at page {start}");
            Assert.That(child.Fault(P(start + 2), FaultAccess.Read), Is.EqualTo(FaultResult.SegvMapErr), $"child, VMA at page {start}");
            Assert.That(child.Fault(P(start + 3), FaultAccess.Read), Is.EqualTo(FaultResult.Ok), $"child, VMA at page {start}");
        }

        Assert.That(child.Fault(P(51), FaultAccess.Write), Is.EqualTo(FaultResult.Ok), "VM_WIPEONFORK: no page tables copied");
        Assert.That(child.Fault(P(61), FaultAccess.Read), Is.EqualTo(FaultResult.SegvMapErr), "VM_DONTCOPY: not mapped in the child");
        Assert.That(child.Madvise(P(61), L(1), Advice.GuardInstall), Is.EqualTo(Errno.ENOMEM));
        foreach (ulong start in starts)
        {
            Assert.That(parent.Fault(P(start + 1), FaultAccess.Read), Is.EqualTo(FaultResult.SegvMapErr), $"parent keeps its markers at page {start}");
        }

        // The copies are the child's own: removing them leaves the parent's, and a grandchild inherits the child's.
        Assert.That(child.Madvise(P(0), L(4), Advice.GuardRemove), Is.EqualTo(Errno.None));
        Assert.That(child.Fault(P(1), FaultAccess.Read), Is.EqualTo(FaultResult.Ok));
        Assert.That(parent.Fault(P(1), FaultAccess.Read), Is.EqualTo(FaultResult.SegvMapErr));
        using AddressSpace grandchild = ForkOf(child);
        Assert.That(grandchild.Fault(P(1), FaultAccess.Read), Is.EqualTo(FaultResult.Ok));
        Assert.That(grandchild.Fault(P(11), FaultAccess.Read), Is.EqualTo(FaultResult.SegvMapErr));
    }

    [Test]
    public void DefFlags_KeepOnlyInitDefMask()
    {
        using AddressSpace parent = V615();
        parent.Mm->DefFlags = VmFlags.Locked | VmFlags.LockOnFault | VmFlags.NoHugePage;
        using AddressSpace child = ForkOf(parent);
        Assert.That(child.Mm->DefFlags, Is.EqualTo(VmFlags.NoHugePage));
        Assert.That(parent.Mm->DefFlags, Is.EqualTo(VmFlags.Locked | VmFlags.LockOnFault | VmFlags.NoHugePage));
    }

    [Test]
    public void Userfaultfd_ContextAndFlagsDropped()
    {
        using AddressSpace parent = V615();
        Map(parent, 0, 4);
        var context = new VmUserfaultfdCtx { Id = 1 };
        VmArea* vma = At(parent, 0);
        vma->VmUserfaultfdCtx = &context;
        vma->VmFlags |= VmFlags.UffdMissing | VmFlags.UffdWp;
        using AddressSpace child = ForkOf(parent);
        Assert.That((nint)At(child, 0)->VmUserfaultfdCtx, Is.EqualTo(nint.Zero));
        Assert.That(At(child, 0)->VmFlags & (VmFlags.UffdMissing | VmFlags.UffdWp), Is.EqualTo(VmFlags.None));
        vma->VmUserfaultfdCtx = null;
    }

    [Test]
    public void FailureAtEachAllocation_ChildTornDown_ParentUnchanged()
    {
        using var files = new FileRegistry();
        using AddressSpace parent = RichParent(files);
        string[] parentBefore = MmSnapshot.Take(parent);
        string[] slabsBefore = SlabCounts();
        parent.Faults.ResetCount();
        ForkOf(parent).Dispose();
        int allocations = parent.Faults.AllocationsSeen;
        Assert.That(allocations, Is.GreaterThan(60), "tree nodes, VMAs, anon_vmas and chains are allocation points");
        Assert.That(SlabCounts(), Is.EqualTo(slabsBefore), "a child disposed gives everything back");
        for (int k = 0; k < allocations; k++)
        {
            parent.Faults.FailAfter(k);
            Errno error = parent.Fork(out AddressSpace? child);
            Assert.That(error, Is.EqualTo(Errno.ENOMEM), $"allocation {k} failed");
            Assert.That(child, Is.Null);
            Assert.That(MmSnapshot.Take(parent), Is.EqualTo(parentBefore), $"allocation {k}: the parent is unchanged");
            Assert.That(SlabCounts(), Is.EqualTo(slabsBefore), $"allocation {k}: the partial child is gone");
        }

        parent.Faults.FailAfter(-1);
        using AddressSpace last = ForkOf(parent);
        Assert.That(last.MapCount, Is.EqualTo(parent.MapCount - 1));
    }

    [Test]
    public void EitherMayBeDisposedFirst_EachReleasesItsOwnReferences([Values] bool parentFirst)
    {
        using var files = new FileRegistry();
        string[] slabsBefore = SlabCounts();
        AddressSpace parent = RichParent(files);
        AddressSpace child = ForkOf(parent);
        AddressSpace grandchild = ForkOf(child);
        VmFile* vmFile = At(parent, 40)->VmFile;
        Assert.That(vmFile->RefCount, Is.EqualTo(4), "the registry's handle and three mappings");
        (AddressSpace first, AddressSpace second) = parentFirst ? (parent, child) : (child, parent);
        first.Dispose();
        Assert.That(vmFile->RefCount, Is.EqualTo(3), "the first one disposed dropped its own");

        // The survivors go on: split, touch, merge, unmap.
        foreach (AddressSpace space in new[] { second, grandchild })
        {
            Assert.That(space.Mprotect(P(1), L(4), Prot.Read), Is.EqualTo(Errno.None));
            Touch(space, 5, 3);
            Assert.That(space.Mprotect(P(1), L(4), Rw), Is.EqualTo(Errno.None));
            Assert.That(space.Munmap(P(100), L(20)), Is.EqualTo(Errno.None));
            Touch(space, 120, 1);
            space.Tree.Validate();
        }

        second.Dispose();
        Assert.That(vmFile->RefCount, Is.EqualTo(2));
        grandchild.Dispose();
        Assert.That(vmFile->RefCount, Is.EqualTo(1), "only the registry's handle is left");
        Assert.That(SlabCounts(), Is.EqualTo(slabsBefore), "every VMA, anon_vma, chain and tree node is back");
    }

    [Test]
    public void ParentFaultsDuringForks_SeeEitherSide_NeverAHalfCopy()
    {
        const int Forks = 200;
        using AddressSpace parent = V615();
        for (ulong i = 0; i < 64; i++)
        {
            Map(parent, 2 * i, 1);
        }

        string layout = Of(parent);
        int stop = 0;
        int faults = 0;
        var faulter = new Thread(() =>
        {
            for (ulong i = 0; Volatile.Read(ref stop) == 0; i++)
            {
                FaultResult result = parent.Fault(P(2 * (i % 64)), FaultAccess.Write);
                Assert.That(result, Is.EqualTo(FaultResult.Ok));
                faults++;
            }
        });
        faulter.Start();
        try
        {
            for (int n = 0; n < Forks; n++)
            {
                using AddressSpace child = ForkOf(parent);
                Assert.That(Of(child), Is.EqualTo(layout), $"fork {n}");
            }
        }
        finally
        {
            Volatile.Write(ref stop, 1);
            faulter.Join();
        }

        Assert.That(Of(parent), Is.EqualTo(layout));
        Assert.That(faults, Is.GreaterThan(0));
    }

    [Test]
    public void ParentAndChildChangeSharedHierarchiesConcurrently([Values(1, 2)] int seed)
    {
        // Splits, merges, faults and unmaps in parent and child at once link and unlink the same anon_vmas: the
        // hierarchy's lock keeps the counts exact, so that everything is freed once both are disposed.
        const int Operations = 3000;
        string[] slabsBefore = SlabCounts();
        AddressSpace parent = V615();
        for (ulong i = 0; i < 16; i++)
        {
            Map(parent, 8 * i, 8);
            Touch(parent, 8 * i, 8);
        }

        AddressSpace child = ForkOf(parent);
        AddressSpace grandchild = ForkOf(child);
        var spaces = new[] { parent, child, grandchild };
        var threads = new Thread[spaces.Length];
        for (int t = 0; t < spaces.Length; t++)
        {
            AddressSpace space = spaces[t];
            var rng = new System.Random((seed * 10) + t);
            threads[t] = new Thread(() =>
            {
                for (int n = 0; n < Operations; n++)
                {
                    ulong page = (ulong)rng.Next(0, 120);
                    ulong pages = (ulong)rng.Next(1, 9);
                    _ = rng.Next(4) switch
                    {
                        0 => space.Mprotect(P(page), L(pages), rng.Next(2) == 0 ? Prot.Read : Rw),
                        1 => space.Touch(P(page), L(pages)),
                        2 => space.Munmap(P(page), L(pages)),
                        _ => space.Mmap(P(page), L(pages), Rw, AnonPrivate, out _),
                    };
                }
            });
        }

        foreach (Thread thread in threads)
        {
            thread.Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        foreach (AddressSpace space in spaces)
        {
            space.Tree.Validate();
        }

        AssertAnonVmaCounts(spaces, seed);
        child.Dispose();
        parent.Dispose();
        grandchild.Dispose();
        Assert.That(SlabCounts(), Is.EqualTo(slabsBefore), $"seed {seed}: every anon_vma and chain is freed");
    }

    /// <summary>
    /// Recounts, from every VMA of <paramref name="spaces"/>, the links, active VMAs, children and root references
    /// of every anon_vma reachable from a chain, and compares them with the counts the anon_vmas hold.
    /// </summary>
    private static void AssertAnonVmaCounts(AddressSpace[] spaces, int seed)
    {
        var chains = new Dictionary<nint, int>();
        var active = new Dictionary<nint, int>();
        foreach (AddressSpace space in spaces)
        {
            var vmi = new VmaIterator(space, 0);
            for (VmArea* vma = vmi.Next(); vma != null; vma = vmi.Next())
            {
                for (ListHead* node = vma->AnonVmaChain.Next; node != &vma->AnonVmaChain; node = node->Next)
                {
                    nint anonVma = (nint)AnonVmaChain.FromSameVma(node)->AnonVma;
                    chains[anonVma] = chains.GetValueOrDefault(anonVma) + 1;
                }

                if (vma->AnonVma != null)
                {
                    active[(nint)vma->AnonVma] = active.GetValueOrDefault((nint)vma->AnonVma) + 1;
                }
            }
        }

        foreach (nint address in chains.Keys)
        {
            AnonVma* anonVma = (AnonVma*)address;
            int children = anonVma->Parent == anonVma ? 1 : 0;
            int pins = 1;
            foreach (nint other in chains.Keys)
            {
                AnonVma* o = (AnonVma*)other;
                children += o != anonVma && o->Parent == anonVma ? 1 : 0;
                pins += o != anonVma && o->Root == anonVma ? 1 : 0;
            }

            string what = $"seed {seed}: anon_vma {address:x}";
            Assert.That(anonVma->ChainCount, Is.EqualTo(chains[address]), $"{what} chains");
            Assert.That(anonVma->NumActiveVmas, Is.EqualTo(active.GetValueOrDefault(address)), $"{what} active VMAs");
            Assert.That(anonVma->NumChildren, Is.EqualTo(children), $"{what} children");
            if (anonVma->Root == anonVma)
            {
                Assert.That(anonVma->RefCount, Is.EqualTo(pins), $"{what} references");
            }
        }
    }

    [Test]
    public void DisposedParent_ForkThrows()
    {
        AddressSpace parent = V615();
        parent.Dispose();
        Assert.That(() => parent.Fork(out _), Throws.TypeOf<System.ObjectDisposedException>());
    }

    // NUMA policies: dup_mmap gives each child VMA a copy of its parent's policy (vma_dup_policy, an allocation that
    // can fail), and merges compare policies by content (mpol_equal), in the parent and in the child.

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
        Assert.That(space.Mmap(P(0), L(4), Rw, AnonPrivate, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Mmap(P(4), L(4), Rw | Prot.Exec, AnonPrivate, out _), Is.EqualTo(Errno.None));
        SetPolicy(space, 0, 2, 1);
        SetPolicy(space, 4, 2, samePolicy ? 1UL : 2UL);
        return space;
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
