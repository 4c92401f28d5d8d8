using System.Numerics;
using NUnit.Framework;
using VmaEngine.Slab;

namespace Tests.Slab.Arena;

/// <summary>
/// The free fast path's map must accept exactly the pointers the full ownership check accepts in a slab with objects
/// in use (every object start, nothing else) and none in any other slab, for every layout a cache can have.
/// </summary>
[TestFixture]
public unsafe class ObjectStartMapTests
{
    private const nuint Page = 4096;

    private static readonly object[] Layouts =
    [
        new object[] { 192, new SlabCacheOptions { Alignment = 64, FreePointerOffset = 0, Flags = SlabFlags.TypesafeByRcu } },
        new object[] { 192, new SlabCacheOptions { Alignment = 64, Flags = SlabFlags.Debug | SlabFlags.TypesafeByRcu } },
        new object[] { 200, new SlabCacheOptions() },
        new object[] { 24, new SlabCacheOptions { Flags = SlabFlags.Debug } },
        new object[] { 40, new SlabCacheOptions { Alignment = 16 } },
        new object[] { 3000, new SlabCacheOptions { Alignment = 8 } },
        new object[] { 4096, new SlabCacheOptions { Alignment = 4096 } },
    ];

    [TestCaseSource(nameof(Layouts))]
    public void ASlabInUseShowsExactlyItsObjectStarts(int size, SlabCacheOptions options)
    {
        SlabGeometry geometry = SlabGeometry.Compute("map", size, options, Page, sizeof(SlabHeader));
        var addressing = new SlabAddressing(geometry);
        var map = new ObjectStartMap(geometry);
        int slab = geometry.SlabsPerArena - 1;
        map.Mark(slab, inUse: true);

        ulong* words = ObjectStartMap.WordsOf(map.Words);
        int shift = ObjectStartMap.GranuleShiftOf(geometry);
        nuint mask = ObjectStartMap.GranuleMaskOf(geometry);
        nuint slabStart = (nuint)slab << geometry.SlabShift;
        int starts = 0;
        for (nuint offset = 0; offset < SlabGeometry.ArenaSize; offset++)
        {
            bool expected = offset >= slabStart && addressing.IsObjectStart((void*)offset);
            bool seen = ObjectStartMap.IsObjectStartInUse(words, offset, shift, mask);
            if (seen != expected)
            {
                Assert.Fail($"size {size}: offset 0x{offset:x} is {(seen ? "accepted" : "rejected")} by the map and {(expected ? "is" : "is not")} an object start of the slab in use");
            }

            starts += seen ? 1 : 0;
        }

        Assert.That(starts, Is.EqualTo(geometry.ObjectsPerSlab), "one bit per object of the slab in use");
    }

    [TestCaseSource(nameof(Layouts))]
    public void ASlabNoLongerInUseShowsNothing(int size, SlabCacheOptions options)
    {
        SlabGeometry geometry = SlabGeometry.Compute("map", size, options, Page, sizeof(SlabHeader));
        var map = new ObjectStartMap(geometry);
        map.Mark(geometry.HeaderTableSlabs, inUse: true);
        map.Mark(geometry.HeaderTableSlabs + 1, inUse: true);
        map.Mark(geometry.HeaderTableSlabs, inUse: false);

        int bits = 0;
        foreach (ulong word in map.Words)
        {
            bits += BitOperations.PopCount(word);
        }

        Assert.That(bits, Is.EqualTo(geometry.ObjectsPerSlab), "only the slab still in use keeps its bits");
        Assert.That(map.Words.Length * sizeof(ulong), Is.LessThanOrEqualTo(SlabGeometry.ArenaSize / 64), "at most one bit per 8 bytes of arena");
    }
}
