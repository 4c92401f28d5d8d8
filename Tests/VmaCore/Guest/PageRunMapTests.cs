using System;
using NUnit.Framework;
using VmaEngine.Vma.Guest;

namespace Tests.VmaCore.Guest;

/// <summary>
/// <see cref="PageRunMap"/> against a plain array of page flags: after every random assignment or narrowing, each
/// page's flags, every range's equality and the number of runs (equal neighbours coalesced) agree.
/// </summary>
public sealed class PageRunMapTests
{
    private const int Pages = 96;
    private const ulong Page = 4096;
    private const ulong Base = 0x10_0000_0000;
    private const int Steps = 4000;

    /// <summary>The flags the steps assign: a hole, and present pages with a few access combinations.</summary>
    private static readonly ulong[] s_flags =
    [
        0,
        TranslationEntry.Present,
        TranslationEntry.Present | TranslationEntry.Read,
        TranslationEntry.Present | TranslationEntry.Read | TranslationEntry.Write,
        TranslationEntry.Present | TranslationEntry.Read | (TranslationEntry.Write << TranslationEntry.AwaitsAnonVmaShift),
    ];

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void RandomChanges_MatchAnArrayOfPages(int seed)
    {
        var random = new Random(seed);
        var map = new PageRunMap();
        ulong[] model = new ulong[Pages];
        for (int step = 0; step < Steps; step++)
        {
            int first = random.Next(Pages);
            int count = 1 + random.Next(random.Next(4) == 0 ? Pages - first : Math.Min(8, Pages - first));
            string context = $"seed {seed}, step {step}";
            if (random.Next(4) == 0)
            {
                ulong keep = (ulong)random.Next(8) & TranslationEntry.AccessMask;
                map.Narrow(At(first), At(first + count), keep);
                for (int page = first; page < first + count; page++)
                {
                    model[page] &= keep | ~TranslationEntry.AccessMask;
                }

                context += $": narrow {first}+{count} to {keep}";
            }
            else
            {
                ulong flags = s_flags[random.Next(s_flags.Length)];
                map.Assign(At(first), At(first + count), flags);
                Array.Fill(model, flags, first, count);
                context += $": assign {first}+{count} {flags:x}";
            }

            Check(map, model, random, context);
        }
    }

    [Test]
    public void AssignInsideARun_SplitsItAndAssigningBackCoalesces()
    {
        var map = new PageRunMap();
        ulong readWrite = TranslationEntry.Present | TranslationEntry.Read | TranslationEntry.Write;
        map.Assign(At(0), At(16), readWrite);
        map.Assign(At(4), At(12), TranslationEntry.Present | TranslationEntry.Read);
        Assert.That(map.Count, Is.EqualTo(3));
        Assert.That(map.FlagsAt(At(3)), Is.EqualTo(readWrite));
        Assert.That(map.FlagsAt(At(12)), Is.EqualTo(readWrite));
        map.Assign(At(4), At(12), readWrite);
        Assert.That(map.Count, Is.EqualTo(1));
        Assert.That(map.AllEqual(At(0), At(16), readWrite), Is.True);
        Assert.That(map.AllEqual(At(0), At(17), readWrite), Is.False);
    }

    /// <summary>The changes a split and merge make, repeated: once the node array is large enough, none allocates.</summary>
    [Test]
    public void SplitsAndMerges_OnceWarm_AllocateNothing()
    {
        const int Scratch = 200;
        var map = new PageRunMap();
        ulong readWrite = TranslationEntry.Present | TranslationEntry.Read | TranslationEntry.Write;
        for (int vma = 0; vma < 64; vma++)
        {
            map.Assign(At(2 * vma), At((2 * vma) + 1), readWrite);
        }

        long allocated = 0;
        for (int round = 0; round < 2; round++)
        {
            allocated = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 1000; i++)
            {
                map.Assign(At(Scratch), At(Scratch + 16), readWrite);
                map.Narrow(At(Scratch + 4), At(Scratch + 12), TranslationEntry.Read);
                map.Assign(At(Scratch + 4), At(Scratch + 12), readWrite);
                map.Assign(At(Scratch), At(Scratch + 16), 0);
            }
        }

        Assert.That(GC.GetAllocatedBytesForCurrentThread() - allocated, Is.Zero);
        Assert.That(map.Count, Is.EqualTo(64));
    }

    private static ulong At(int page) => Base + ((ulong)page * Page);

    /// <summary>Compares every page, the run count and a few random ranges with the model.</summary>
    private static void Check(PageRunMap map, ulong[] model, Random random, string context)
    {
        int runs = 0;
        for (int page = 0; page < Pages; page++)
        {
            Assert.That(map.FlagsAt(At(page) + 123), Is.EqualTo(model[page]), $"{context}: page {page}");
            runs += model[page] != 0 && (page == 0 || model[page - 1] != model[page]) ? 1 : 0;
        }

        Assert.That(map.FlagsAt(At(Pages)), Is.Zero, $"{context}: past the end");
        Assert.That(map.Count, Is.EqualTo(runs), $"{context}: runs");
        for (int i = 0; i < 4; i++)
        {
            int first = random.Next(Pages);
            int count = 1 + random.Next(Pages - first);
            ulong flags = model[first];
            bool expected = Array.TrueForAll(model[first..(first + count)], f => f == flags);
            Assert.That(map.AllEqual(At(first), At(first + count), flags), Is.EqualTo(expected), $"{context}: {first}+{count} all {flags:x}");
        }
    }
}
