using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Guest;
using static Tests.VmaCore.Guest.GuestMemoryFixture;

namespace Tests.VmaCore.Guest;

/// <summary>
/// Randomized sequences of system calls and faults on a backed space: after every step the translation table and the
/// host's own <c>/proc/self/maps</c> agree, page by page, with the engine's VMAs.
/// </summary>
public sealed class GuestMemoryRandomTests
{
    private const int WindowPages = 64;
    private const int Steps = 250;

    private static readonly Prot[] s_prots =
    [
        Prot.None, Prot.Read, Prot.Read | Prot.Write, Prot.Read | Prot.Exec, Prot.Read | Prot.Write | Prot.Exec, Prot.Write,
    ];

    /// <summary>The size in pages of each shared anonymous object the random steps mapped, by <see cref="VmaInfo.FileId"/> (unique in the process).</summary>
    private static readonly ConcurrentDictionary<int, ulong> s_objectPages = new();

    [TestCase(1, true)]
    [TestCase(2, false)]
    [TestCase(3, true)]
    public void TableAndHostMapsFollowTheVmas(int seed, bool zeroPage)
    {
        var random = new Random(seed);
        using GuestMemory guest = Create(zeroPage);
        for (int step = 0; step < Steps; step++)
        {
            string operation = RandomStep(guest, random);
            string context = $"seed {seed}, step {step}: {operation}";
            CheckTable(guest, zeroPage, context);
            CheckHostMaps(guest, zeroPage, context);
        }
    }

    /// <summary>Runs one random call on pages of the window; returns what it did.</summary>
    private static string RandomStep(GuestMemory guest, Random random)
    {
        int page = random.Next(WindowPages);
        int pages = 1 + random.Next(Math.Min(8, WindowPages - page));
        ulong address = At(page);
        ulong length = (ulong)pages * Page;
        Prot prot = s_prots[random.Next(s_prots.Length)];
        switch (random.Next(9))
        {
            case 0:
                return $"mmap {page}+{pages} {prot}: " + guest.Mmap(address, length, prot, MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed, out _);
            case 1:
                Errno shared = guest.Mmap(address, length, prot, MapFlags.Shared | MapFlags.Anonymous | MapFlags.Fixed, out _);
                if (shared == Errno.None)
                {
                    s_objectPages[Find(guest.Space.Snapshot(), address)!.Value.FileId] = (ulong)pages;
                }

                return $"mmap shared {page}+{pages} {prot}: {shared}";
            case 2:
                return $"munmap {page}+{pages}: " + guest.Munmap(address, length);
            case 3:
                return $"mprotect {page}+{pages} {prot}: " + guest.Mprotect(address, length, prot);
            case 4:
                int target = random.Next(WindowPages - pages);
                bool dontUnmap = random.Next(3) == 0;
                int newPages = dontUnmap ? pages : 1 + random.Next(Math.Min(8, WindowPages - target));
                MremapFlags flags = MremapFlags.MayMove | MremapFlags.Fixed | (dontUnmap ? MremapFlags.DontUnmap : MremapFlags.None);
                return $"mremap {page}+{pages} -> {target}+{newPages} {flags}: "
                    + guest.Mremap(address, length, (ulong)newPages * Page, flags, At(target), out _);
            case 5:
                int grown = 1 + random.Next(8);
                return $"mremap {page}+{pages} to {grown} pages: " + guest.Mremap(address, length, (ulong)grown * Page, MremapFlags.MayMove, 0, out _);
            case 6:
                return $"madvise dontneed {page}+{pages}: " + guest.Madvise(address, length, DropAdvice.DontNeed);
            case 7:
                return $"madvise dontfork {page}+{pages}: " + guest.Madvise(address, length, Advice.DontFork);
            default:
                FaultAccess access = (FaultAccess)random.Next(3);
                return $"fault {page} {access}: " + guest.Fault(address, access);
        }
    }

    /// <summary>Every page of [<paramref name="start"/>, +<paramref name="pages"/>) (default: the window) translates as its VMA says, for every access.</summary>
    internal static void CheckTable(GuestMemory guest, bool zeroPage, string context, ulong start = Window, int pages = WindowPages)
    {
        IReadOnlyList<VmaInfo> vmas = guest.Space.Snapshot();
        for (int page = 0; page < pages; page++)
        {
            ulong address = start + ((ulong)page * Page);
            VmaInfo? vma = Find(vmas, address);
            foreach (FaultAccess access in Enum.GetValues<FaultAccess>())
            {
                TranslateStatus expected = Expected(vma, address, access, zeroPage);
                TranslateStatus status = guest.Translate(address + 17, access, out nint host);
                Assert.That(status, Is.EqualTo(expected), $"{context}: page {page} {access}");
                Assert.That(host, Is.EqualTo(status == TranslateStatus.Ok ? guest.HostAddressOf(address + 17) : 0), $"{context}: page {page} host address");
            }
        }
    }

    /// <summary>
    /// Every host page of [<paramref name="start"/>, +<paramref name="pages"/>) (default: the window) has the
    /// protection the mapping function gives its VMA's fault-free rights.
    /// </summary>
    internal static void CheckHostMaps(GuestMemory guest, bool zeroPage, string context, ulong start = Window, int pages = WindowPages)
    {
        IReadOnlyList<VmaInfo> vmas = guest.Space.Snapshot();
        string[] host = HostMaps.Permissions(guest.HostAddressOf(start), pages);
        for (int page = 0; page < pages; page++)
        {
            VmaInfo? vma = Find(vmas, start + ((ulong)page * Page));
            Prot rights = Prot.None;
            foreach (FaultAccess access in Enum.GetValues<FaultAccess>())
            {
                rights |= Expected(vma, start + ((ulong)page * Page), access, zeroPage) == TranslateStatus.Ok ? RightOf(access) : Prot.None;
            }

            Assert.That(host[page], Is.EqualTo(HostMaps.Letters(guest.HostProtectionOf(rights))), $"{context}: host page {page}");
        }
    }

    /// <summary>
    /// What Translate must say for <paramref name="access"/> to the page at <paramref name="address"/> of
    /// <paramref name="vma"/>, from the engine's snapshot and the sizes of the shared objects mapped: a page past the
    /// end of its object (after mremap grew the mapping) allows nothing (SIGBUS).
    /// </summary>
    private static TranslateStatus Expected(VmaInfo? vma, ulong address, FaultAccess access, bool zeroPage)
    {
        if (vma is not { } info)
        {
            return TranslateStatus.Unmapped;
        }

        VmFlags flags = info.Flags;
        bool allowed = access switch
        {
            FaultAccess.Write => (flags & VmFlags.Write) != 0,
            FaultAccess.Execute => (flags & VmFlags.Exec) != 0,
            _ => (flags & (VmFlags.Read | VmFlags.Write | VmFlags.Exec)) != 0,
        };
        bool pastObjectEnd = s_objectPages.TryGetValue(info.FileId, out ulong objectPages)
            && info.Pgoff + ((address - info.Start) / Page) >= objectPages;
        if (!allowed || pastObjectEnd)
        {
            return TranslateStatus.NotPermitted;
        }

        bool needsAnonVma = info.AnonVmaId == 0 && (flags & VmFlags.Shared) == 0
            && (access == FaultAccess.Write || (!zeroPage && info.Backing == VmaBacking.Anonymous));
        return needsAnonVma ? TranslateStatus.FirstWrite : TranslateStatus.Ok;
    }

    private static Prot RightOf(FaultAccess access) => access switch
    {
        FaultAccess.Write => Prot.Write,
        FaultAccess.Execute => Prot.Exec,
        _ => Prot.Read,
    };

    private static VmaInfo? Find(IReadOnlyList<VmaInfo> vmas, ulong address)
    {
        foreach (VmaInfo vma in vmas)
        {
            if (vma.Start <= address && address < vma.End)
            {
                return vma;
            }
        }

        return null;
    }
}
