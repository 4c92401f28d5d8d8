using System;
using System.Collections.Generic;
using System.Threading;
using VmaEngine.Vma;

namespace Fuzz;

/// <summary>
/// Engine-only fuzzing: random calls with unconfined arguments (every 64-bit value, unknown flag bits, execute
/// faults) on fresh address spaces, checking after every call that nothing threw and that the structures are
/// consistent: the VMA tree validates, the map count, the tree's count and the VMAs found agree, every VMA is page
/// aligned, attached once, of this mm and inside [mmap_min_addr, TASK_SIZE), and the VMA cache holds exactly those
/// VMAs. After each case the address space is disposed and every engine cache is back where it started.
/// </summary>
internal static unsafe class EngineFuzzer
{
    private static string s_current = "";

    /// <summary>The call running now (volatile), for a caller that decides the run hangs.</summary>
    public static string Current => Volatile.Read(ref s_current);

    /// <summary>Runs <paramref name="calls"/> calls (stopping at <paramref name="maxFindings"/> findings).</summary>
    /// <param name="seed">The generator's seed.</param>
    /// <param name="calls">How many calls to check.</param>
    /// <param name="brkEdges">Whether brk is given values at or above TASK_SIZE.</param>
    /// <param name="maxFindings">Stop after this many findings.</param>
    public static FuzzReport Run(int seed, long calls, bool brkEdges, int maxFindings)
    {
        var report = new FuzzReport { Seed = seed };
        var options = new AddressSpaceOptions();
        var generator = new CallGenerator(seed, Zones.EngineOnly, options.StartBrk, options.MmapMinAddr, confine: false, brkEdges);
        using var engine = new EngineSide(Zones.EngineOnly);
        (long Vmas, long AnonVmas, long Chains) baseline = ActiveObjects();
        while (report.Calls < calls && report.Findings.Count < maxFindings)
        {
            var batch = new List<FuzzCall>();
            report.Cases++;
            string? finding = null;
            var space = new AddressSpace(options);
            try
            {
                for (int n = generator.NextCaseLength(); n > 0 && finding == null; n--)
                {
                    FuzzCall call = generator.Next();
                    batch.Add(call);
                    Volatile.Write(ref s_current, $"seed {seed} case {report.Cases}: {call}");
                    engine.Apply(space, call);
                    report.Calls++;
                    finding = Check(space, baseline.Vmas);
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                finding = $"threw {e}";
            }
            finally
            {
                space.Dispose();
            }

            if (finding == null && ActiveObjects() != baseline)
            {
                finding = $"after Dispose the caches hold {ActiveObjects()} objects (vma, anon_vma, chain), before {baseline}";
                baseline = ActiveObjects();
            }

            if (finding != null)
            {
                report.Findings.Add($"case {report.Cases}: {finding}\n{FuzzReport.Describe(batch, batch.Count)}");
            }
        }

        return report;
    }

    private static (long, long, long) ActiveObjects() => (
        VmAreaCache.Cache.Info.ActiveObjects, AnonVmaCache.AnonVmas.Info.ActiveObjects, AnonVmaCache.Chains.Info.ActiveObjects);

    /// <summary>The first broken invariant, or null.</summary>
    private static string? Check(AddressSpace space, long vmaBaseline)
    {
        space.Tree.Validate();
        AddressSpaceOptions options = space.Options;
        ulong address = 0;
        int count = 0;
        VmArea* vma;
        while ((vma = space.Tree.FindAtOrAfter(address, ulong.MaxValue, out ulong start, out ulong end)) != null)
        {
            count++;
            if (start != vma->VmStart || end != vma->VmEnd || start >= end || ((start | end) & ~MmConstants.PageMask) != 0)
            {
                return $"tree range [{start:x}, {end:x}) holds VMA [{vma->VmStart:x}, {vma->VmEnd:x})";
            }

            if (start < options.MmapMinAddr || end > options.TaskSize)
            {
                return $"VMA [{start:x}, {end:x}) outside [mmap_min_addr, TASK_SIZE)";
            }

            if (vma->VmMm != space.Mm || vma->VmRefcnt != 1)
            {
                return $"VMA [{start:x}, {end:x}) of another mm or with refcount {vma->VmRefcnt}";
            }

            address = end;
        }

        if (space.MapCount != count || space.Tree.Count != count)
        {
            return $"map_count {space.MapCount}, tree count {space.Tree.Count}, {count} VMAs found";
        }

        long held = VmAreaCache.Cache.Info.ActiveObjects - vmaBaseline;
        return held == count ? null : $"the VMA cache holds {held} objects for {count} VMAs";
    }
}
