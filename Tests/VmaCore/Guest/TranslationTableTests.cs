using System;
using System.Threading;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Guest;
using static Tests.VmaCore.Guest.GuestMemoryContentsTests;
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

    [TestCase(5)]
    public void ConcurrentReaders_SeeOnlyWholeEntries(int seed)
    {
        using GuestMemory guest = Create();
        var random = new Random(seed);
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
                    ulong address = At(local.Next(64)) + (ulong)local.Next(4096);
                    TranslateStatus status = guest.Translate(address, (FaultAccess)local.Next(3), out nint host);
                    nint expected = status == TranslateStatus.Ok ? guest.HostAddressOf(address) : 0;
                    if (host != expected)
                    {
                        failure = $"seed {seed}: {address:x} gave {host:x} with {status}";
                    }
                }
            });
            readers[r].Start();
        }

        for (int step = 0; step < 2_000; step++)
        {
            ulong address = At(random.Next(60));
            ulong length = (ulong)(1 + random.Next(4)) * Page;
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

        Assert.That(failure, Is.Null);
    }
}
