using System;
using System.Threading;
using NUnit.Framework;
using VmaEngine.Slab;
using VmaEngine.Vma;
using VmaEngine.Vma.Tree;

namespace Tests.VmaCore.Tree;

/// <summary>
/// Lockless readers inside RCU read-side sections walk the tree while one writer stores and erases: every answer
/// must be a range some store actually put there, never a torn node.
/// </summary>
[TestFixture]
public sealed unsafe class VmaTreeRcuTests
{
    private const ulong Page = 4096;
    private const int Writes = 10_000;
    private const int MaxReadsPerReader = 20_000_000;

    /// <summary>
    /// The fake VMAs have fixed ranges (some overlapping, so stores clip one another) that the writer never changes
    /// and that stay allocated for the whole test; a reader checks that whatever it finds covers the address
    /// asked for and that the range reported lies inside the VMA's own range.
    /// </summary>
    [TestCase(11)]
    [TestCase(12)]
    public void ReadersNeverSeeATornState(int seed)
    {
        const int pool = 512;
        const int pages = 8192;
        var rng = new Random(seed);
        using var vmas = new FakeVmas(pool);
        for (int i = 0; i < pool; i++)
        {
            ulong start = (ulong)rng.Next(pages - 64) * Page;
            vmas[i]->VmStart = start;
            vmas[i]->VmEnd = start + ((ulong)rng.Next(1, rng.Next(4) == 0 ? 64 : 8) * Page);
        }

        var tree = new VmaTree();
        int writerDone = 0;
        string? failure = null;
        long reads = 0;

        void Reader(int readerSeed)
        {
            var r = new Random(readerSeed);
            for (int n = 0; n < MaxReadsPerReader && Volatile.Read(ref writerDone) == 0 && Volatile.Read(ref failure) == null; n++)
            {
                ulong address = (ulong)r.NextInt64(pages * (long)Page);
                ulong limit = (ulong)r.NextInt64(pages * (long)Page);
                string? bad;
                try
                {
                    bad = ReadOnce(tree, vmas, address, limit);
                }
                catch (InvalidOperationException e)
                {
                    bad = e.Message;
                }

                if (bad != null)
                {
                    Interlocked.CompareExchange(ref failure, $"seed {seed}, reader {readerSeed}: {bad}", null);
                }

                Interlocked.Increment(ref reads);
            }
        }

        var readers = new[] { new Thread(() => Reader((seed * 10) + 1)), new Thread(() => Reader((seed * 10) + 2)) };
        foreach (Thread t in readers)
        {
            t.Start();
        }

        try
        {
            for (int w = 0; w < Writes && Volatile.Read(ref failure) == null; w++)
            {
                VmArea* vma = vmas[rng.Next(pool)];
                (ulong start, ulong end) = (vma->VmStart, vma->VmEnd);
                if (rng.Next(3) == 0)
                {
                    // Erase part of, or more than, a VMA's range: clips and removes neighbours.
                    start = vma->VmStart + ((ulong)rng.Next(2) * Page);
                    end = start + ((ulong)rng.Next(1, 128) * Page);
                    vma = null;
                }

                Assert.That(tree.Preallocate(start, end), Is.True);
                tree.Store(start, end, vma);
            }
        }
        finally
        {
            Volatile.Write(ref writerDone, 1);
            foreach (Thread t in readers)
            {
                t.Join();
            }
        }

        Assert.That(failure, Is.Null);
        Assert.That(Interlocked.Read(ref reads), Is.GreaterThan(0));
        tree.Validate();
        tree.Dispose();
    }

    /// <summary>One read-side section: a lookup, a forward and a backward search, each checked; null when all hold.</summary>
    private static string? ReadOnce(VmaTree tree, FakeVmas vmas, ulong address, ulong limit)
    {
        Rcu.ReadLock();
        try
        {
            VmArea* vma = tree.Load(address);
            if (vma != null && (vmas.IdOf(vma) < 0 || !vma->Contains(address)))
            {
                return $"Load(0x{address:x}) gave [0x{vma->VmStart:x}, 0x{vma->VmEnd:x})";
            }

            vma = tree.FindAtOrAfter(address, limit, out ulong start, out ulong end);
            if (vma != null && (!Inside(vmas, vma, start, end) || end <= address || start >= limit))
            {
                return $"FindAtOrAfter(0x{address:x}, 0x{limit:x}) gave [0x{start:x}, 0x{end:x})";
            }

            vma = tree.FindBefore(address, limit, out start, out end);
            if (vma != null && (!Inside(vmas, vma, start, end) || start >= address || end <= limit))
            {
                return $"FindBefore(0x{address:x}, 0x{limit:x}) gave [0x{start:x}, 0x{end:x})";
            }

            return null;
        }
        finally
        {
            Rcu.ReadUnlock();
        }
    }

    /// <summary>Whether [start, end) is a non-empty part of the VMA's own range.</summary>
    private static bool Inside(FakeVmas vmas, VmArea* vma, ulong start, ulong end) =>
        vmas.IdOf(vma) >= 0 && start < end && start >= vma->VmStart && end <= vma->VmEnd;
}
