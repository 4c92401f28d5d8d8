using System;
using System.Collections.Generic;
using NUnit.Framework;
using VmaEngine.Slab;

namespace Tests.Slab.Geometry;

[TestFixture]
public unsafe class SlabGeometryTests
{
    private const nuint Page = 4096;

    private static SlabGeometry Compute(int size, SlabCacheOptions options) =>
        SlabGeometry.Compute("test", size, options, Page, sizeof(SlabHeader));

    [Test]
    public void VmAreaWithFreePointerOffsetKeeps192BytesAnd42PerTwoPageSlab()
    {
        using var cache = new SlabCache<Vma192>("vm_area_struct", new SlabCacheOptions
        {
            Alignment = 64,
            FreePointerOffset = 0,
            Flags = SlabFlags.TypesafeByRcu,
        });

        SlabInfo info = cache.Info;
        Assert.Multiple(() =>
        {
            Assert.That(info.ObjectSize, Is.EqualTo(192));
            Assert.That(info.ObjectsPerSlab, Is.EqualTo(42));
            Assert.That(info.PagesPerSlab, Is.EqualTo(2));
            Assert.That(cache.FreePointerOffset, Is.EqualTo(0));
            Assert.That(cache.OnSlabMetadata, Is.True, "8192 - 42 x 192 = 128 bytes hold the slab header");
        });
    }

    [Test]
    public void TypesafeByRcuWithoutOffsetPutsTheFreePointerAfterTheObject()
    {
        using var cache = new SlabCache<Vma192>("vma_no_freeptr", new SlabCacheOptions
        {
            Alignment = 64,
            Flags = SlabFlags.TypesafeByRcu,
        });

        Assert.Multiple(() =>
        {
            Assert.That(cache.Info.ObjectSize, Is.EqualTo(256));
            Assert.That(cache.ObjectsPerSlab, Is.EqualTo(32));
            Assert.That(cache.PagesPerSlab, Is.EqualTo(2));
            Assert.That(cache.FreePointerOffset, Is.EqualTo(192));
            Assert.That(cache.OnSlabMetadata, Is.False, "32 x 256 = 8192 leaves no room: metadata goes off-slab");
        });
    }

    [Test]
    public void PlainCacheOf192AlignedTo64PutsTheFreePointerInTheMiddle()
    {
        SlabGeometry g = Compute(192, new SlabCacheOptions { Alignment = 64 });
        Assert.Multiple(() =>
        {
            Assert.That(g.FreePointerOffset, Is.EqualTo(96));
            Assert.That(g.SlotSize, Is.EqualTo(192));
            Assert.That(g.ObjectsPerSlab, Is.EqualTo(42));
        });
    }

    [Test]
    public void ConstructorMovesTheFreePointerAfterTheObject()
    {
        SlabGeometry g = Compute(192, new SlabCacheOptions { Alignment = 64, Constructor = _ => { } });
        Assert.That(g.FreePointerOffset, Is.EqualTo(192));
        Assert.That(g.SlotSize, Is.EqualTo(256));
    }

    // The kernel's kmalloc caches on a machine with 16 to 31 CPUs (min_objects 24), 4 KiB pages.
    [TestCase(8, 512, 0)]
    [TestCase(16, 256, 0)]
    [TestCase(32, 128, 0)]
    [TestCase(64, 64, 0)]
    [TestCase(96, 42, 0)]
    [TestCase(128, 32, 0)]
    [TestCase(192, 42, 1)]
    [TestCase(256, 32, 1)]
    [TestCase(512, 32, 2)]
    [TestCase(1024, 32, 3)]
    [TestCase(2048, 16, 3)]
    [TestCase(4096, 8, 3)]
    public void OrderAndObjectsMatchTheKernelsKmallocCaches(int size, int objects, int order)
    {
        SlabGeometry g = Compute(size, new SlabCacheOptions());
        Assert.That((g.ObjectsPerSlab, g.Order), Is.EqualTo((objects, order)));
    }

    [Test]
    public void EverySizeAndAlignmentGivesAnAlignedLayoutWithinTheWasteRule()
    {
        var failures = new List<string>();
        for (int size = 8; size <= 4096; size += size < 256 ? 8 : 56)
        {
            foreach (int alignment in new[] { 0, 8, 16, 32, 64, 128, 256, 512, 1024, 4096 })
            {
                foreach (SlabFlags flags in new[] { SlabFlags.None, SlabFlags.TypesafeByRcu, SlabFlags.Debug })
                {
                    SlabGeometry g = Compute(size, new SlabCacheOptions { Alignment = alignment, Flags = flags });
                    int align = Math.Max(alignment, 8);
                    nuint slab = g.SlabBytes;
                    bool ok = g.SlotSize % align == 0 && g.ObjectOffset % align == 0
                        && g.SlotSize >= size + g.ObjectOffset
                        && g.ObjectsPerSlab == (int)(slab / (nuint)g.SlotSize) && g.ObjectsPerSlab >= 1
                        && g.FreePointerOffset % 8 == 0
                        && (g.Order > SlabGeometry.MaxPreferredOrder || g.Leftover <= (int)slab / 2)
                        && g.OnSlabMetadata == (g.Leftover >= sizeof(SlabHeader));
                    if (!ok)
                    {
                        failures.Add($"size {size} align {alignment} {flags}: slot {g.SlotSize} order {g.Order} objects {g.ObjectsPerSlab}");
                    }
                }
            }
        }

        Assert.That(failures, Is.Empty);
    }

    [Test]
    public void ObjectsOfEveryCacheAreAlignedDistinctAndInsideTheirSlab()
    {
        foreach (int alignment in new[] { 0, 16, 64, 256, 4096 })
        {
            CheckObjects<Size8>(alignment);
            CheckObjects<Size24>(alignment);
            CheckObjects<Size100>(alignment);
            CheckObjects<Vma192>(alignment);
            CheckObjects<Size256>(alignment);
            CheckObjects<Size1000>(alignment);
            CheckObjects<Size4096>(alignment);
        }
    }

    private static void CheckObjects<T>(int alignment) where T : unmanaged
    {
        using var cache = new SlabCache<T>($"align{alignment}_{typeof(T).Name}", new SlabCacheOptions { Alignment = alignment });
        int count = cache.ObjectsPerSlab * 3 + 1;
        var seen = new HashSet<nint>();
        var objects = new nint[count];
        int align = Math.Max(alignment, 8);
        for (int i = 0; i < count; i++)
        {
            T* obj = cache.Alloc();
            objects[i] = (nint)obj;
            Assert.That((long)obj % align, Is.Zero, $"{cache.Name}: object {i} at 0x{(nint)obj:x} is not aligned to {align}");
            Assert.That(seen.Add((nint)obj), Is.True, $"{cache.Name}: object 0x{(nint)obj:x} handed out twice");
            nint slab = (nint)obj & ~(nint)(cache.PagesPerSlab * 4096 - 1);
            Assert.That((nint)obj + sizeof(T) <= slab + cache.PagesPerSlab * 4096, Is.True, $"{cache.Name}: object crosses its slab end");
            new Span<byte>(obj, sizeof(T)).Fill((byte)i);
        }

        for (int i = 0; i < count; i++)
        {
            Assert.That(new Span<byte>((void*)objects[i], sizeof(T)).ContainsAnyExcept((byte)i), Is.False, $"{cache.Name}: object {i} was overwritten");
        }

        foreach (nint obj in objects)
        {
            cache.Free((T*)obj);
        }

        Assert.That(cache.Info.ActiveObjects, Is.Zero);
    }

    [TestCase(3)]
    [TestCase(-8)]
    [TestCase(48)]
    [TestCase(8192)]
    public void BadAlignmentIsRejected(int alignment)
    {
        var e = Assert.Throws<ArgumentException>(() => new SlabCache<Vma192>("bad_align", new SlabCacheOptions { Alignment = alignment }));
        Assert.That(e!.Message, Does.Contain("bad_align").And.Contain(alignment.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Test]
    public void UnalignedFreePointerOffsetIsRejected()
    {
        var e = Assert.Throws<ArgumentException>(() => new SlabCache<Vma192>("bad_fp", new SlabCacheOptions { FreePointerOffset = 4, Flags = SlabFlags.TypesafeByRcu }));
        Assert.That(e!.Message, Does.Contain("not a multiple of 8"));
    }

    [TestCase(-8)]
    [TestCase(188)]
    [TestCase(192)]
    [TestCase(1024)]
    public void FreePointerOffsetOutsideTheObjectIsRejected(int offset)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new SlabCache<Vma192>("bad_fp", new SlabCacheOptions { FreePointerOffset = offset, Flags = SlabFlags.TypesafeByRcu }));
        Assert.That(e!.Message, Does.Contain("outside the 192-byte object"));
    }

    [Test]
    public void ObjectsTooLargeForAnArenaAreRejected()
    {
        Assert.Throws<ArgumentException>(() => Compute(SlabGeometry.MaxSlotSize + 8, new SlabCacheOptions()));
    }
}
