using System;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Guest;
using static Tests.VmaCore.Guest.GuestMemoryFixture;

namespace Tests.VmaCore.Guest;

/// <summary>
/// The table filled on demand against the engine: after every operation of a random sequence (mmap, munmap,
/// mprotect, mremap, guard markers, faults), a random sample of pages across two leaves translates as the VMA the
/// engine finds there says (its flags, its anon_vma, the page's guard marker). Sampling, rather than translating
/// every page each step, leaves pages uncached for many steps, so stale and missing entries both show.
/// </summary>
public sealed unsafe class LazyTranslationRandomTests
{
    /// <summary>The window straddles the boundary of two leaves (2 MiB each).</summary>
    private const int FirstPage = 512 - 96;
    private const int WindowPages = 192;
    private const int Steps = 400;
    private const int Samples = 24;

    private static readonly Prot[] s_prots = [Prot.None, Prot.Read, Prot.Read | Prot.Write, Prot.Read | Prot.Exec, Prot.Write];

    [TestCase(11, true)]
    [TestCase(12, false)]
    [TestCase(13, true)]
    public void SampledTranslationsFollowTheEngine(int seed, bool zeroPage)
    {
        var random = new Random(seed);
        using GuestMemory guest = Create(zeroPage);
        for (int step = 0; step < Steps; step++)
        {
            string operation = RandomStep(guest, random);
            for (int sample = 0; sample < Samples; sample++)
            {
                ulong address = At(FirstPage + random.Next(WindowPages)) + (ulong)random.Next((int)Page);
                var access = (FaultAccess)random.Next(3);
                TranslateStatus status = guest.Translate(address, access, out nint host);
                string context = $"seed {seed}, step {step} ({operation}): {access} at page {(address - At(FirstPage)) / Page}";
                Assert.That(status, Is.EqualTo(Expected(guest, address, access, zeroPage)), context);
                Assert.That(host, Is.EqualTo(status == TranslateStatus.Ok ? guest.HostAddressOf(address) : 0), context);
            }
        }
    }

    /// <summary>Runs one random operation on the window; returns what it did.</summary>
    private static string RandomStep(GuestMemory guest, Random random)
    {
        int page = random.Next(WindowPages);
        int pages = 1 + random.Next(Math.Min(24, WindowPages - page));
        ulong address = At(FirstPage + page);
        ulong length = (ulong)pages * Page;
        Prot prot = s_prots[random.Next(s_prots.Length)];
        switch (random.Next(9))
        {
            case 0:
            case 1:
                return $"mmap {page}+{pages} {prot}: " + guest.Mmap(address, length, prot, MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed, out _);
            case 2:
                return $"munmap {page}+{pages}: " + guest.Munmap(address, length);
            case 3:
                return $"mprotect {page}+{pages} {prot}: " + guest.Mprotect(address, length, prot);
            case 4:
                int target = random.Next(WindowPages - pages);
                return $"mremap {page}+{pages} -> {target}: "
                    + guest.Mremap(address, length, length, MremapFlags.MayMove | MremapFlags.Fixed, At(FirstPage + target), out _);
            case 5:
                return $"guard install {page}+{pages}: " + guest.Madvise(address, length, Advice.GuardInstall);
            case 6:
                return $"guard remove {page}+{pages}: " + guest.Madvise(address, length, Advice.GuardRemove);
            default:
                var access = (FaultAccess)random.Next(3);
                return $"fault {page} {access}: " + guest.Fault(address, access);
        }
    }

    /// <summary>What Translate must say, from the VMA the engine finds at <paramref name="address"/> (<c>find_vma</c>) and the guard markers.</summary>
    private static TranslateStatus Expected(GuestMemory guest, ulong address, FaultAccess access, bool zeroPage)
    {
        AddressSpace space = guest.Space;
        space.MmapLock.ReadLock();
        try
        {
            VmArea* vma = space.Tree.Load(address);
            ulong page = address & ~(Page - 1);
            if (vma == null || space.GuardPages.FirstIn(page, page + Page) == page)
            {
                return TranslateStatus.Unmapped;
            }

            VmFlags flags = vma->VmFlags;
            bool allowed = access switch
            {
                FaultAccess.Write => (flags & VmFlags.Write) != 0,
                FaultAccess.Execute => (flags & VmFlags.Exec) != 0,
                _ => (flags & (VmFlags.Read | VmFlags.Write | VmFlags.Exec)) != 0,
            };
            if (!allowed)
            {
                return TranslateStatus.NotPermitted;
            }

            bool awaitsAnonVma = vma->AnonVma == null && (access == FaultAccess.Write || !zeroPage);
            return awaitsAnonVma ? TranslateStatus.FirstWrite : TranslateStatus.Ok;
        }
        finally
        {
            space.MmapLock.ReadUnlock();
        }
    }
}
