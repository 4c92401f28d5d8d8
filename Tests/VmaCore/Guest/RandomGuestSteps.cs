using System;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Guest;
using static Tests.VmaCore.Guest.GuestMemoryFixture;

namespace Tests.VmaCore.Guest;

/// <summary>The operations <see cref="RandomGuestSteps"/> may draw.</summary>
internal enum GuestStep
{
    Mmap,
    MmapShared,
    Munmap,
    Mprotect,
    MremapFixed,
    MremapAnywhere,
    DontNeed,
    DontFork,
    GuardInstall,
    GuardRemove,
    Fault,
    Fork,
}

/// <summary>
/// Random system calls and faults on a window of window pages of a backed space, for the randomized guest tests:
/// each draws an operation from <see cref="Steps"/> (repeat one to make it likelier) over a random run of pages.
/// </summary>
/// <param name="firstPage">The window's first page (see <see cref="GuestMemoryFixture.At"/>).</param>
/// <param name="windowPages">The pages of the window.</param>
/// <param name="maxPages">The longest run an operation covers.</param>
/// <param name="steps">The operations to draw from.</param>
internal sealed class RandomGuestSteps(int firstPage, int windowPages, int maxPages, params GuestStep[] steps)
{
    private static readonly Prot[] s_prots =
    [
        Prot.None, Prot.Read, Prot.Read | Prot.Write, Prot.Read | Prot.Exec, Prot.Read | Prot.Write | Prot.Exec, Prot.Write,
    ];

    /// <summary>The operations drawn from.</summary>
    public GuestStep[] Steps { get; } = steps;

    /// <summary>Called with each fork child before the child is disposed.</summary>
    public Action<GuestMemory>? CheckChild { get; init; }

    /// <summary>Runs one random operation; returns what it did and its result.</summary>
    public string Run(GuestMemory guest, Random random)
    {
        int page = random.Next(windowPages);
        int pages = 1 + random.Next(Math.Min(maxPages, windowPages - page));
        ulong address = At(firstPage + page);
        ulong length = (ulong)pages * Page;
        Prot prot = s_prots[random.Next(s_prots.Length)];
        string range = $"{page}+{pages}";
        switch (Steps[random.Next(Steps.Length)])
        {
            case GuestStep.Mmap:
                return $"mmap {range} {prot}: " + guest.Mmap(address, length, prot, MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed, out _);
            case GuestStep.MmapShared:
                Errno shared = guest.Mmap(address, length, prot, MapFlags.Shared | MapFlags.Anonymous | MapFlags.Fixed, out _);
                if (shared == Errno.None)
                {
                    GuestExpectations.RecordSharedObject(guest, address, (ulong)pages);
                }

                return $"mmap shared {range} {prot}: {shared}";
            case GuestStep.Munmap:
                return $"munmap {range}: " + guest.Munmap(address, length);
            case GuestStep.Mprotect:
                return $"mprotect {range} {prot}: " + guest.Mprotect(address, length, prot);
            case GuestStep.MremapFixed:
                int target = random.Next(windowPages - pages);
                bool dontUnmap = random.Next(3) == 0;
                int newPages = dontUnmap ? pages : 1 + random.Next(Math.Min(maxPages, windowPages - target));
                MremapFlags flags = MremapFlags.MayMove | MremapFlags.Fixed | (dontUnmap ? MremapFlags.DontUnmap : MremapFlags.None);
                return $"mremap {range} -> {target}+{newPages} {flags}: "
                    + guest.Mremap(address, length, (ulong)newPages * Page, flags, At(firstPage + target), out _);
            case GuestStep.MremapAnywhere:
                int grown = 1 + random.Next(maxPages);
                return $"mremap {range} to {grown} pages: " + guest.Mremap(address, length, (ulong)grown * Page, MremapFlags.MayMove, 0, out _);
            case GuestStep.DontNeed:
                return $"madvise dontneed {range}: " + guest.Madvise(address, length, DropAdvice.DontNeed);
            case GuestStep.DontFork:
                return $"madvise dontfork {range}: " + guest.Madvise(address, length, Advice.DontFork);
            case GuestStep.GuardInstall:
                return $"guard install {range}: " + guest.Madvise(address, length, Advice.GuardInstall);
            case GuestStep.GuardRemove:
                return $"guard remove {range}: " + guest.Madvise(address, length, Advice.GuardRemove);
            case GuestStep.Fork:
                return Fork(guest);
            default:
                var access = (FaultAccess)random.Next(3);
                return $"fault {page} {access}: " + guest.Fault(address, access);
        }
    }

    /// <summary>Forks <paramref name="guest"/>, hands the child to <see cref="CheckChild"/> and disposes it.</summary>
    private string Fork(GuestMemory guest)
    {
        Errno error = guest.Fork(out GuestMemory? child);
        Assert.That(error, Is.EqualTo(Errno.None), "fork");
        using (child)
        {
            CheckChild?.Invoke(child!);
        }

        return "fork: " + error;
    }
}
