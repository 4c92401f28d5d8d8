using System;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Guest;
using static Tests.VmaCore.Guest.GuestMemoryFixture;

namespace Tests.VmaCore.Guest;

/// <summary>
/// The table filled on demand against the engine: after every operation of a random sequence (mmap, munmap,
/// mprotect, mremap, guard markers, faults), a random sample of pages across two leaves translates as the engine's
/// VMAs and guard markers say. Sampling, rather than translating every page each step, leaves pages uncached for
/// many steps, so stale and missing entries both show.
/// </summary>
public sealed class LazyTranslationRandomTests
{
    /// <summary>The window straddles the boundary of two leaves (2 MiB each).</summary>
    private const int FirstPage = 512 - 96;
    private const int WindowPages = 192;
    private const int Steps = 400;
    private const int Samples = 24;

    [TestCase(11, true)]
    [TestCase(12, false)]
    [TestCase(13, true)]
    public void SampledTranslationsFollowTheEngine(int seed, bool zeroPage)
    {
        var random = new Random(seed);
        using GuestMemory guest = Create(zeroPage);
        var steps = new RandomGuestSteps(FirstPage, WindowPages, 24,
            GuestStep.Mmap, GuestStep.Mmap, GuestStep.Munmap, GuestStep.Mprotect, GuestStep.MremapFixed,
            GuestStep.GuardInstall, GuestStep.GuardRemove, GuestStep.Fault, GuestStep.Fault);
        for (int step = 0; step < Steps; step++)
        {
            string operation = steps.Run(guest, random);
            var expected = new GuestExpectations(guest, zeroPage);
            for (int sample = 0; sample < Samples; sample++)
            {
                ulong address = At(FirstPage + random.Next(WindowPages)) + (ulong)random.Next((int)Page);
                var access = (FaultAccess)random.Next(3);
                TranslateStatus status = guest.Translate(address, access, out nint host);
                string context = $"seed {seed}, step {step} ({operation}): {access} at page {(address - At(FirstPage)) / Page}";
                Assert.That(status, Is.EqualTo(expected.Translation(address, access)), context);
                Assert.That(host, Is.EqualTo(status == TranslateStatus.Ok ? guest.HostAddressOf(address) : 0), context);
            }
        }
    }
}
