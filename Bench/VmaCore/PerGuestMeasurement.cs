using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;
using VmaEngine.Slab;
using VmaEngine.Vma;
using VmaEngine.Vma.Locking;
using VmaEngine.Vma.Tree;

namespace Bench.VmaCore;

/// <summary>
/// What one guest costs (issue 16, goals 3 and 5), measured once rather than timed against a peer:
/// <c>dotnet run -c Release --project Bench -- --per-guest</c>.
/// <list type="number">
/// <item>Memory per VMA at 1M VMAs (the kernel anchor's layout): the VMA slab, the tree's nodes and both caches'
/// slab overhead, from the slab statistics and the tree's node count.</item>
/// <item>The memory of an empty <see cref="AddressSpace"/>, over 10,000 of them: GC heap, native heap (glibc
/// <c>mallinfo2</c>) and slab committed bytes, with the GC heap of each object an address space holds.</item>
/// <item>The time to create a space, map 10 VMAs, touch one page and dispose it.</item>
/// <item>10,000 such spaces alive at once, then all disposed and the caches shrunk: GC heap and slab committed bytes
/// against where they started.</item>
/// </list>
/// </summary>
internal static unsafe class PerGuestMeasurement
{
    private const ulong Page = MmConstants.PageSize;
    private const int Spaces = 10_000;
    private const int LargeVmas = 1_000_000;
    private const int GuestVmas = 10;
    private const MapFlags Anon = MapFlags.Private | MapFlags.Anonymous;

    /// <summary>Runs every measurement and prints the figures.</summary>
    public static void Run()
    {
        Console.WriteLine($"# per-guest measurement, {DateTime.UtcNow:u}, load average {LoadAverage()}");
        MeasurePerVma();
        MeasureEmptySpaces();
        MeasureCreateDispose();
        MeasureReturnToStart();
        Console.WriteLine($"# done, load average {LoadAverage()}");
    }

    /// <summary>Goal 3: memory per VMA at 1M VMAs of 3 pages each followed by a 3-page hole.</summary>
    private static void MeasurePerVma()
    {
        Settle();
        SlabInfo vmasBefore = VmAreaCache.Cache.Info;
        SlabInfo nodesBefore = VmaTree.NodeCacheInfo;
        long heapBefore = GC.GetTotalMemory(true);
        var space = new AddressSpace(new AddressSpaceOptions { MaxMapCount = LargeVmas + 16 });
        for (int i = 0; i < LargeVmas; i++)
        {
            ulong start = 0x1000_0000 + ((ulong)i * 6 * Page);
            Check(space.Mmap(start, 3 * Page, Prot.Read | Prot.Write, Anon | MapFlags.Fixed, out _) == Errno.None, "mmap of the 1M layout");
        }

        Settle();
        SlabInfo vmas = VmAreaCache.Cache.Info;
        SlabInfo nodes = VmaTree.NodeCacheInfo;
        long heap = GC.GetTotalMemory(true) - heapBefore;
        int treeNodes = TreeNodeCount(space);
        double n = LargeVmas;
        double vmaBytes = (vmas.CommittedBytes - vmasBefore.CommittedBytes) / n;
        double nodeBytes = (nodes.CommittedBytes - nodesBefore.CommittedBytes) / n;
        Console.WriteLine();
        Console.WriteLine($"## Memory per VMA at {LargeVmas:N0} VMAs (3 pages + 3-page hole)");
        Console.WriteLine($"vm_area_struct slab: {vmaBytes:F1} B/VMA committed ({vmas.ObjectSize} B slots, {vmas.ObjectsPerSlab} per {vmas.PagesPerSlab}-page slab; " +
            $"overhead over the slots {vmaBytes - vmas.ObjectSize:F1} B)");
        Console.WriteLine($"maple_node slab: {nodeBytes:F1} B/VMA committed; the tree holds {treeNodes:N0} nodes of {VmaTreeNode.Size} B " +
            $"({treeNodes * (double)VmaTreeNode.Size / n:F1} B/VMA, {n / treeNodes:F2} VMAs per node), pool {space.Tree.PreallocatedNodes}, " +
            $"recycling ring {space.Tree.RecyclingNodes}; node slab active {nodes.ActiveObjects - nodesBefore.ActiveObjects:N0}, total slots {nodes.TotalObjects - nodesBefore.TotalObjects:N0}");
        Console.WriteLine($"GC heap: {heap / n:F2} B/VMA");
        Console.WriteLine($"TOTAL (slabs committed + GC heap): {vmaBytes + nodeBytes + (heap / n):F1} B/VMA (goal <= 210)");
        space.Dispose();
    }

    /// <summary>Goal 5: the memory of an empty address space, and of each object it holds.</summary>
    private static void MeasureEmptySpaces()
    {
        Snapshot before = Snapshot.Take();
        AddressSpace[] spaces = CreateSpaces(() => new AddressSpace());
        Snapshot after = Snapshot.Take();
        Console.WriteLine();
        Console.WriteLine($"## Empty AddressSpace, {Spaces:N0} alive");
        after.PrintPerSpace(before, "empty space");
        DisposeAll(spaces);

        Console.WriteLine("GC heap of what an empty space holds (10,000 of each, GC.GetTotalMemory deltas):");
        PrintObjectSize("AddressSpace (the object itself, with its options and FaultInjection)", () => new AddressSpace(), s => s.Dispose(), true);
        PrintObjectSize("  VmaTree (no mmap_lock)", () => new VmaTree(), t => t.Dispose(), false);
        PrintObjectSize("  MmapLock (with its ReaderWriterLockSlim)", () => new MmapLock(null), _ => { }, false);
        PrintObjectSize("  ReaderWriterLockSlim", () => new ReaderWriterLockSlim(LockRecursionPolicy.NoRecursion), l => l.Dispose(), false);
        PrintObjectSize("  System.Threading.Lock", () => new Lock(), _ => { }, false);
        PrintObjectSize("  FaultInjection", () => new FaultInjection(), _ => { }, false);
        PrintObjectSize("  AddressSpaceOptions", () => new AddressSpaceOptions(), _ => { }, false);
        PrintObjectSize("  writer-wait monitor (object + GC handle)", () => GCHandle.Alloc(new object()), h => h.Free(), false);
    }

    /// <summary>Prints the GC heap that <see cref="Spaces"/> objects made by <paramref name="create"/> hold, per object.</summary>
    private static void PrintObjectSize<T>(string what, Func<T> create, Action<T> destroy, bool whole)
    {
        var objects = new T[Spaces];
        long before = GC.GetTotalMemory(true);
        for (int i = 0; i < Spaces; i++)
        {
            objects[i] = create();
        }

        long after = GC.GetTotalMemory(true);
        Console.WriteLine($"  {what}: {(after - before) / (double)Spaces:F0} B{(whole ? " in all" : string.Empty)}");
        foreach (T o in objects)
        {
            destroy(o);
        }
    }

    /// <summary>Goal 5: creating a space with 10 VMAs and a touch, then disposing it.</summary>
    private static void MeasureCreateDispose()
    {
        for (int i = 0; i < Spaces; i++)
        {
            CreateGuest().Dispose();
        }

        Console.WriteLine();
        Console.WriteLine($"## Create + {GuestVmas} VMAs + touch + dispose, {Spaces:N0} in a row (after as many to warm up)");
        for (int round = 0; round < 5; round++)
        {
            Settle();
            long allocated = GC.GetAllocatedBytesForCurrentThread();
            var watch = Stopwatch.StartNew();
            for (int i = 0; i < Spaces; i++)
            {
                CreateGuest().Dispose();
            }

            watch.Stop();
            allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
            Console.WriteLine($"round {round}: {watch.Elapsed.TotalMicroseconds / Spaces:F2} us per space (goal <= 10), " +
                $"{allocated / (double)Spaces:F0} B of GC allocations per space");
        }
    }

    /// <summary>
    /// Goal 5: 10,000 guests alive, then all disposed and the caches shrunk, against the start (caches shrunk too);
    /// twice, to tell memory that stays once (high-water tables) from memory that each cycle adds.
    /// </summary>
    private static void MeasureReturnToStart()
    {
        ShrinkCaches();
        Snapshot start = Snapshot.Take();
        for (int cycle = 1; cycle <= 2; cycle++)
        {
            Console.WriteLine();
            Console.WriteLine($"## {Spaces:N0} spaces with {GuestVmas} VMAs and a touched page alive, then disposed and the caches shrunk (cycle {cycle})");
            Snapshot alive = CreateAndDisposeGuests(start);

            Snapshot disposed = Snapshot.Take();
            ShrinkCaches();
            Snapshot shrunk = Snapshot.Take();
            Console.WriteLine($"start:    {start}");
            Console.WriteLine($"alive:    {alive}");
            Console.WriteLine($"disposed: {disposed}");
            Console.WriteLine($"shrunk:   {shrunk}");
            Console.WriteLine($"shrunk against start: GC heap {Percent(shrunk.GcHeap, start.GcHeap)}, slab committed " +
                $"{Percent(shrunk.SlabCommitted, start.SlabCommitted)}, native heap {Percent(shrunk.NativeHeap, start.NativeHeap)} (goal: within 5%)");
        }
    }

    /// <summary>
    /// Creates <see cref="Spaces"/> guests, prints what each holds, disposes them and returns the snapshot taken while
    /// they were alive. A method of its own so that nothing in the caller keeps the disposed spaces reachable (Tier-0
    /// code keeps every local alive to the end of its method).
    /// </summary>
    private static Snapshot CreateAndDisposeGuests(Snapshot start)
    {
        AddressSpace[] spaces = CreateSpaces(CreateGuest);
        Snapshot alive = Snapshot.Take();
        alive.PrintPerSpace(start, "space with 10 VMAs");
        DisposeAll(spaces);
        return alive;
    }

    /// <summary>Returns the empty slabs of the engine's caches (<c>kmem_cache_shrink</c> on each).</summary>
    private static void ShrinkCaches()
    {
        Settle();
        VmAreaCache.Cache.Shrink();
        VmaTree.ShrinkNodeCache();
        AnonVmaCache.AnonVmas.Shrink();
        AnonVmaCache.Chains.Shrink();
    }

    /// <summary><see cref="Spaces"/> address spaces made by <paramref name="create"/>.</summary>
    private static AddressSpace[] CreateSpaces(Func<AddressSpace> create)
    {
        var spaces = new AddressSpace[Spaces];
        for (int i = 0; i < Spaces; i++)
        {
            spaces[i] = create();
        }

        return spaces;
    }

    private static void DisposeAll(AddressSpace[] spaces)
    {
        foreach (AddressSpace space in spaces)
        {
            space.Dispose();
        }
    }

    /// <summary>A space with 10 VMAs (alternately read-only and read-write, so that they do not merge) and a touched page.</summary>
    private static AddressSpace CreateGuest()
    {
        var space = new AddressSpace();
        ulong first = 0;
        for (int i = 0; i < GuestVmas; i++)
        {
            Prot prot = i % 2 == 0 ? Prot.Read | Prot.Write : Prot.Read;
            Check(space.Mmap(0, (ulong)(i + 1) * Page, prot, Anon, out ulong mapped) == Errno.None, "guest mmap");
            first = i == 0 ? mapped : first;
        }

        Check(space.Touch(first, Page) == Errno.None, "guest touch");
        return space;
    }

    /// <summary>The nodes of a space's tree, counted under its mmap_lock.</summary>
    private static int TreeNodeCount(AddressSpace space)
    {
        space.MmapLock.ReadLock();
        int count = space.Tree.NodeCount;
        space.MmapLock.ReadUnlock();
        return count;
    }

    /// <summary>Lets pending RCU callbacks (deferred frees, ring trims) run and collects garbage.</summary>
    private static void Settle()
    {
        Rcu.Synchronize();
        Rcu.Barrier();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static string Percent(long now, long then) => then == 0 ? $"{now} B (from 0)" : $"{(now - then) * 100.0 / then:+0.00;-0.00}%";

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', System.IO.File.ReadAllText("/proc/loadavg").Split(' ')[..3]);
        }
        catch (System.IO.IOException)
        {
            return "unknown";
        }
    }

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"per-guest measurement: {what} failed.");
        }
    }

    /// <summary>glibc's <c>struct mallinfo2</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint Arena;
        public nuint Ordblks;
        public nuint Smblks;
        public nuint Hblks;
        public nuint Hblkhd;
        public nuint Usmblks;
        public nuint Fsmblks;
        public nuint Uordblks;
        public nuint Fordblks;
        public nuint Keepcost;
    }

    /// <summary>The process's memory as the goals count it, at one instant after <see cref="Settle"/>.</summary>
    private readonly record struct Snapshot(long GcHeap, long NativeHeap, long SlabCommitted)
    {
        public static Snapshot Take()
        {
            Settle();
            long slabs = VmAreaCache.Cache.Info.CommittedBytes + VmaTree.NodeCacheInfo.CommittedBytes +
                AnonVmaCache.AnonVmas.Info.CommittedBytes + AnonVmaCache.Chains.Info.CommittedBytes;
            return new Snapshot(GC.GetTotalMemory(true), NativeHeapInUse(), slabs);
        }

        public void PrintPerSpace(Snapshot before, string what)
        {
            double gc = (GcHeap - before.GcHeap) / (double)Spaces;
            double native = (NativeHeap - before.NativeHeap) / (double)Spaces;
            double slab = (SlabCommitted - before.SlabCommitted) / (double)Spaces;
            Console.WriteLine($"{what}: GC heap {gc:F0} B + native heap {native:F0} B + slab committed {slab:F0} B = {gc + native + slab:F0} B");
        }

        public override string ToString() => $"GC heap {GcHeap:N0} B, native heap {NativeHeap:N0} B, slab committed {SlabCommitted:N0} B";

        /// <summary>Bytes in use in the C heap (small blocks and mmapped large ones), where <c>NativeMemory.Alloc</c> takes them.</summary>
        private static long NativeHeapInUse()
        {
            if (!OperatingSystem.IsLinux())
            {
                return 0;
            }

            MallInfo2 info = mallinfo2();
            return (long)(info.Uordblks + info.Hblkhd);
        }

        [DllImport("libc", EntryPoint = "mallinfo2")]
        private static extern MallInfo2 mallinfo2();
    }
}
