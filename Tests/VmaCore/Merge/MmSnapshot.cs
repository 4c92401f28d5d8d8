using System.Collections.Generic;
using System.Linq;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Locking;
using VmaEngine.Vma.Tree;

namespace Tests.VmaCore.Merge;

/// <summary>
/// Everything an operation may change in an mm, as comparable text: each tree range with its VMA's identity and
/// fields, anon_vma links, lock state, the map count, every anon_vma's counts and the slab caches' active objects.
/// Two snapshots are equal iff the mm is exactly as it was.
/// </summary>
internal static unsafe class MmSnapshot
{
    /// <summary>The full snapshot.</summary>
    public static string[] Take(AddressSpace mm)
    {
        var lines = new List<string>();
        var anonVmas = new SortedDictionary<nint, string>();
        ulong address = 0;
        while (true)
        {
            VmArea* vma = mm.Tree.FindAtOrAfter(address, ulong.MaxValue, out ulong start, out ulong end);
            if (vma == null)
            {
                break;
            }

            address = end;
            var chain = new List<string>();
            for (ListHead* node = vma->AnonVmaChain.Next; node != &vma->AnonVmaChain; node = node->Next)
            {
                AnonVma* anonVma = AnonVmaChain.FromSameVma(node)->AnonVma;
                chain.Add($"{(nint)anonVma:x}");
                anonVmas[(nint)anonVma] = $"anon_vma {(nint)anonVma:x} ref {anonVma->RefCount} children {anonVma->NumChildren} " +
                    $"active {anonVma->NumActiveVmas} chains {anonVma->ChainCount}";
            }

            lines.Add($"[{start:x},{end:x}) vma {(nint)vma:x} [{vma->VmStart:x},{vma->VmEnd:x}) pg {vma->VmPgoff:x} flags {vma->VmFlags} " +
                $"file {(nint)vma->VmFile:x} anon {(nint)vma->AnonVma:x} ops {(nint)vma->VmOps:x} pol {(nint)vma->VmPolicy:x} " +
                $"name {(nint)vma->AnonVmaName:x} uffd {(nint)vma->VmUserfaultfdCtx:x} refcnt {vma->VmRefcnt} chain [{string.Join(",", chain)}] " +
                $"refs file {(vma->VmFile != null ? vma->VmFile->RefCount : 0)} pol {(vma->VmPolicy != null ? vma->VmPolicy->RefCount : 0)} " +
                $"name {(vma->AnonVmaName != null ? vma->AnonVmaName->RefCount : 0)}");
        }

        lines.Add($"map_count {mm.MapCount} tree {mm.Tree.Count}");
        lines.AddRange(anonVmas.Values);
        lines.AddRange(SlabCounts());
        return [.. lines];
    }

    /// <summary>The active objects of the engine's slab caches.</summary>
    public static string[] SlabCounts() =>
    [
        $"slab vm_area_struct {VmAreaCache.Cache.Info.ActiveObjects}",
        $"slab anon_vma {AnonVmaCache.AnonVmas.Info.ActiveObjects}",
        $"slab anon_vma_chain {AnonVmaCache.Chains.Info.ActiveObjects}",
    ];

    /// <summary>
    /// The layout page by page, with adjacent VMAs that differ only by a split coalesced: what a user of the mm can
    /// observe, unchanged by splits the kernel leaves behind after a failed operation.
    /// </summary>
    public static string[] Layout(AddressSpace mm, ulong holeStart = 0, ulong holeEnd = 0)
    {
        var ranges = new List<(ulong Start, ulong End, ulong Pgoff, string Attributes)>();
        var vmi = new VmaIterator(mm, 0);
        for (VmArea* vma = vmi.Next(); vma != null; vma = vmi.Next())
        {
            string attributes = $"flags {vma->VmFlags} file {(nint)vma->VmFile:x} anon {(nint)vma->AnonVma:x} ops {(nint)vma->VmOps:x} " +
                $"pol {(nint)vma->VmPolicy:x} name {(nint)vma->AnonVmaName:x} uffd {(nint)vma->VmUserfaultfdCtx:x}";
            Clip(ranges, vma->VmStart, vma->VmEnd, vma->VmPgoff, attributes, holeStart, holeEnd);
        }

        var merged = new List<(ulong Start, ulong End, ulong Pgoff, string Attributes)>();
        foreach (var range in ranges)
        {
            if (merged.Count > 0)
            {
                var last = merged[^1];
                if (last.End == range.Start && last.Attributes == range.Attributes &&
                    last.Pgoff + ((last.End - last.Start) >> MmConstants.PageShift) == range.Pgoff)
                {
                    merged[^1] = (last.Start, range.End, last.Pgoff, last.Attributes);
                    continue;
                }
            }

            merged.Add(range);
        }

        return [.. merged.Select(r => $"[{r.Start:x},{r.End:x}) pg {r.Pgoff:x} {r.Attributes}")];
    }

    /// <summary>
    /// Checks the mm's invariants: tree ranges are the VMAs' ranges, every VMA in the tree is attached and belongs to
    /// the mm, the map count is the number of VMAs, and every anon_vma's counts match its links.
    /// </summary>
    public static void AssertConsistent(AddressSpace mm)
    {
        var active = new Dictionary<nint, int>();
        var chains = new Dictionary<nint, int>();
        int count = 0;
        ulong address = 0;
        ulong lastEnd = 0;
        while (true)
        {
            VmArea* vma = mm.Tree.FindAtOrAfter(address, ulong.MaxValue, out ulong start, out ulong end);
            if (vma == null)
            {
                break;
            }

            address = end;
            count++;
            Assert.That((vma->VmStart, vma->VmEnd), Is.EqualTo((start, end)), "tree range differs from the VMA's");
            Assert.That(start, Is.GreaterThanOrEqualTo(lastEnd), "ranges overlap");
            lastEnd = end;
            Assert.That(vma->VmMm == mm.Mm, "a VMA of another mm");
            Assert.That(VmaLock.IsAttached(vma), "a VMA in the tree is detached");
            bool linkedToOwn = vma->AnonVma == null;
            for (ListHead* node = vma->AnonVmaChain.Next; node != &vma->AnonVmaChain; node = node->Next)
            {
                AnonVmaChain* avc = AnonVmaChain.FromSameVma(node);
                Assert.That(avc->Vma == vma, "a chain link of another VMA");
                chains[(nint)avc->AnonVma] = chains.GetValueOrDefault((nint)avc->AnonVma) + 1;
                linkedToOwn |= avc->AnonVma == vma->AnonVma;
            }

            Assert.That(linkedToOwn, "a VMA is not linked to its own anon_vma");
            if (vma->AnonVma != null)
            {
                active[(nint)vma->AnonVma] = active.GetValueOrDefault((nint)vma->AnonVma) + 1;
            }
        }

        Assert.That(mm.MapCount, Is.EqualTo(count), "map_count");
        Assert.That(mm.Tree.Count, Is.EqualTo(count), "tree ranges");
        foreach ((nint pointer, int links) in chains)
        {
            var anonVma = (AnonVma*)pointer;
            Assert.That(anonVma->ChainCount, Is.EqualTo(links), "anon_vma chain count");
            Assert.That(anonVma->NumActiveVmas, Is.EqualTo(active.GetValueOrDefault(pointer)), "anon_vma active VMAs");
            Assert.That(anonVma->RefCount, Is.EqualTo(1), "anon_vma refcount (no fork: one reference per root)");
            Assert.That(anonVma->NumChildren, Is.EqualTo(1), "anon_vma children (no fork: the root itself)");
        }
    }

    private static void Clip(List<(ulong, ulong, ulong, string)> ranges, ulong start, ulong end, ulong pgoff, string attributes, ulong holeStart, ulong holeEnd)
    {
        if (holeEnd <= start || holeStart >= end)
        {
            ranges.Add((start, end, pgoff, attributes));
            return;
        }

        if (start < holeStart)
        {
            ranges.Add((start, holeStart, pgoff, attributes));
        }

        if (end > holeEnd)
        {
            ranges.Add((holeEnd, end, pgoff + ((holeEnd - start) >> MmConstants.PageShift), attributes));
        }
    }
}
