using System;
using NUnit.Framework;
using VmaEngine.Vma.Guest;
using static Tests.VmaCore.Guest.GuestMemoryFixture;

namespace Tests.VmaCore.Guest;

/// <summary>
/// Randomized sequences of system calls, guard markers, faults and forks on a backed space: after every step the
/// translation table and the host's own <c>/proc/self/maps</c> agree, page by page, with the engine's VMAs and guard
/// markers, in the space and in every fork child.
/// </summary>
public sealed class GuestMemoryRandomTests
{
    private const int WindowPages = 64;
    private const int Steps = 250;

    [TestCase(1, true)]
    [TestCase(2, false)]
    [TestCase(3, true)]
    public void TableAndHostMapsFollowTheVmas(int seed, bool zeroPage)
    {
        var random = new Random(seed);
        using GuestMemory guest = Create(zeroPage);
        string context = $"seed {seed}";
        var steps = new RandomGuestSteps(0, WindowPages, 8,
            GuestStep.Mmap, GuestStep.MmapShared, GuestStep.Munmap, GuestStep.Mprotect, GuestStep.MremapFixed,
            GuestStep.MremapAnywhere, GuestStep.DontNeed, GuestStep.DontFork, GuestStep.Fault,
            GuestStep.GuardInstall, GuestStep.GuardRemove, GuestStep.Fork)
        {
            CheckChild = child => Check(child, zeroPage, context + ", the child"),
        };
        for (int step = 0; step < Steps; step++)
        {
            context = $"seed {seed}, step {step}";
            context += ": " + steps.Run(guest, random);
            Check(guest, zeroPage, context);
        }
    }

    private static void Check(GuestMemory guest, bool zeroPage, string context)
    {
        GuestExpectations.CheckTable(guest, zeroPage, context, Window, WindowPages);
        GuestExpectations.CheckHostMaps(guest, zeroPage, context, Window, WindowPages);
    }
}
