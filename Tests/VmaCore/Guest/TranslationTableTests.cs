using System;
using System.Threading;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Guest;
using static Tests.VmaCore.Guest.GuestMemoryFixture;

namespace Tests.VmaCore.Guest;

/// <summary>The translation table across leaves (2 MiB each) and under concurrent readers.</summary>
public sealed class TranslationTableTests
{
    [Test]
    public void LargeMoveAcrossLeaves_EveryPageFollows()
    {
        using GuestMemory guest = Create();
        const int pages = 1500;
        ulong source = At(300);
        ulong target = At(5000);
        MapReadWrite(guest, source, pages);
        Write(guest, source, 1);
        Write(guest, source + ((pages - 1) * Page), 2);

        Assert.That(guest.Mremap(source, pages * Page, pages * Page, MremapFlags.MayMove | MremapFlags.Fixed, target, out _), Is.EqualTo(Errno.None));
        for (int page = 0; page < pages; page++)
        {
            Assert.That(guest.Translate(source + ((ulong)page * Page), FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.Unmapped), $"old page {page}");
            Assert.That(guest.Translate(target + ((ulong)page * Page), FaultAccess.Write, out nint host), Is.EqualTo(TranslateStatus.Ok), $"new page {page}");
            Assert.That(host, Is.EqualTo(guest.HostAddressOf(target + ((ulong)page * Page))));
        }

        Assert.That(Read(guest, target), Is.EqualTo(1));
        Assert.That(Read(guest, target + ((pages - 1) * Page)), Is.EqualTo(2));
    }

    [TestCase(7)]
    public void ScatteredPagesUnmapped_TableBytesReturnToBaseline(int seed)
    {
        using GuestMemory guest = Create();
        ulong[] pages = ScatteredPages(new Random(seed), 200);

        // The run map's array grows to hold the runs once and keeps its size: map and unmap the pages once first.
        foreach (ulong page in pages)
        {
            MapReadWrite(guest, page, 1);
        }

        foreach (ulong page in pages)
        {
            Assert.That(guest.Munmap(page, Page), Is.EqualTo(Errno.None));
        }

        ulong baseline = guest.TranslationTableBytes;
        foreach (ulong page in pages)
        {
            MapReadWrite(guest, page, 1);
            Write(guest, page + 8, 0x3C);
        }

        ulong touched = guest.TranslationTableBytes;
        Assert.That(touched, Is.GreaterThanOrEqualTo(baseline + (200UL * TranslationTable.LeafBytes)), $"seed {seed}: one leaf per page");
        for (int i = 0; i < 100; i++)
        {
            Assert.That(guest.Munmap(pages[i], Page), Is.EqualTo(Errno.None));
        }

        Assert.That(touched - guest.TranslationTableBytes, Is.EqualTo(100UL * TranslationTable.LeafBytes), $"seed {seed}: each unmapped page frees its leaf");
        for (int i = 100; i < pages.Length; i++)
        {
            Assert.That(guest.Munmap(pages[i], Page), Is.EqualTo(Errno.None));
        }

        Assert.That(guest.TranslationTableBytes, Is.EqualTo(baseline), $"seed {seed}: everything unmapped");
        MapReadWrite(guest, pages[0], 1);
        Assert.That(Read(guest, pages[0] + 8), Is.Zero, "a leaf brought back holds no stale entry");
    }

    [TestCase(9)]
    public void ConcurrentReaders_WhileLeavesAreFreedAndBroughtBack(int seed)
    {
        using GuestMemory guest = Create();
        ulong[] pages = ScatteredPages(new Random(seed), 16);
        string? failure = TranslateWhileChanging(guest, seed, random => pages[random.Next(pages.Length)], 1);
        Assert.That(failure, Is.Null);
    }

    /// <summary><paramref name="count"/> pages of the backed range, each in a leaf (2 MiB) of its own, at random.</summary>
    private static ulong[] ScatteredPages(Random random, int count)
    {
        const int leaves = (int)((High - Low) >> 21);
        var pages = new ulong[count];
        var used = new bool[leaves];
        for (int i = 0; i < count; i++)
        {
            int leaf;
            do
            {
                leaf = random.Next(leaves);
            }
            while (used[leaf]);
            used[leaf] = true;
            pages[i] = Low + ((ulong)leaf << 21) + ((ulong)random.Next(512) * Page);
        }

        return pages;
    }

    [TestCase(5)]
    public void ConcurrentReaders_SeeOnlyWholeEntries(int seed)
    {
        using GuestMemory guest = Create();
        string? failure = TranslateWhileChanging(guest, seed, random => At(random.Next(60)), 4);
        Assert.That(failure, Is.Null);
    }

    /// <summary>
    /// Two threads translate random addresses of the pages <paramref name="pick"/> chooses while this one maps,
    /// unmaps and faults runs of up to <paramref name="maxPages"/> pages there (2,000 steps, seeded); returns the
    /// first translation whose host address was not the page's own (or not zero when refused), or null.
    /// </summary>
    private static string? TranslateWhileChanging(GuestMemory guest, int seed, Func<Random, ulong> pick, int maxPages)
    {
        int stop = 0;
        string? failure = null;
        var readers = new Thread[2];
        for (int r = 0; r < readers.Length; r++)
        {
            int readerSeed = seed + r + 1;
            readers[r] = new Thread(() =>
            {
                var local = new Random(readerSeed);
                for (int i = 0; Volatile.Read(ref stop) == 0 && i < 5_000_000; i++)
                {
                    ulong address = pick(local) + (ulong)local.Next(4096);
                    TranslateStatus status = guest.Translate(address, (FaultAccess)local.Next(3), out nint host);
                    if (host != (status == TranslateStatus.Ok ? guest.HostAddressOf(address) : 0))
                    {
                        failure = $"seed {seed}: {address:x} gave {host:x} with {status}";
                    }
                }
            });
            readers[r].Start();
        }

        var random = new Random(seed);
        for (int step = 0; step < 2_000; step++)
        {
            ulong address = pick(random);
            ulong length = (ulong)(1 + random.Next(maxPages)) * Page;
            _ = random.Next(3) switch
            {
                0 => guest.Mmap(address, length, Prot.Read | Prot.Write, MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed, out _),
                1 => guest.Munmap(address, length),
                _ => guest.Fault(address, FaultAccess.Write) == FaultResult.Ok ? Errno.None : Errno.EFAULT,
            };
        }

        Volatile.Write(ref stop, 1);
        foreach (Thread reader in readers)
        {
            reader.Join();
        }

        return failure;
    }
}
