using System;
using System.Diagnostics;
using System.Numerics;
using VmaEngine.Native;

namespace VmaEngine.Slab;

/// <summary>
/// The layout of a cache's objects and slabs, computed once when the cache is created: where the free pointer
/// goes, the slot size (stride), the slab order, how many objects a slab holds, where the slab's metadata lives,
/// and, in debug mode, the red zones.
/// </summary>
/// <remarks>
/// <para>
/// Source: Linux v6.15 <c>mm/slub.c</c>, <c>calculate_sizes</c>, <c>calculate_order</c> and <c>calc_slab_order</c>
/// (rules and constants), and the old SLAB allocator's choice between on-slab and off-slab management
/// (<c>mm/slab.c</c> before v6.8). The code is this project's own.
/// </para>
/// <para>
/// One slot, in the general case and in debug mode (offsets grow to the right; <c>obj</c> is the pointer the
/// cache hands out):
/// <code>
///  plain:  obj
///          |&lt;------ object (ObjectSize) ------&gt;|[free pointer]|pad to alignment|
///          the free pointer sits inside the object (chosen offset or the middle) or after it
///
///  debug:  slot       obj
///          |left red  |&lt;---- object, poisoned ----&gt;|right red zone|free pointer|pad|
///          |zone      |       when free               |(at least 8)  |            |
/// </code>
/// One slab (2^order pages, naturally aligned) with on-slab metadata, for 192-byte objects aligned to 64:
/// <code>
///  |obj 0|obj 1| ... |obj 41|SlabHeader + unused| = 42 x 192 = 8064 bytes + 128 bytes leftover = 8192
/// </code>
/// When the leftover cannot hold a <see cref="SlabHeader"/> (for example 32 x 256 = 8192), the headers of an
/// arena's slabs live in a table at the start of the arena instead (off-slab).
/// </para>
/// </remarks>
internal sealed class SlabGeometry
{
    /// <summary>The size of a free-list link, the kernel's <c>freeptr_t</c>; objects and offsets are word-aligned.</summary>
    public const int WordSize = 8;

    /// <summary>
    /// The fewest objects a slab should hold (the kernel's <c>slub_min_objects</c> default,
    /// <c>4 * (fls(nr_cpus) + 1)</c>, for 16 to 31 CPUs). It is fixed rather than derived from this machine's
    /// processor count so that a cache has the same geometry on every host; the per-thread magazines, not the
    /// slab size, absorb contention here.
    /// </summary>
    public const int MinObjects = 24;

    /// <summary>The highest order the waste search tries (<c>slub_max_order</c> = <c>PAGE_ALLOC_COSTLY_ORDER</c>).</summary>
    public const int MaxPreferredOrder = 3;

    /// <summary>The fewest empty slabs a cache keeps (the kernel's <c>MIN_PARTIAL</c>).</summary>
    public const int MinPartial = 5;

    /// <summary>The most empty slabs a cache keeps (the kernel's <c>MAX_PARTIAL</c>).</summary>
    public const int MaxPartial = 10;

    /// <summary>
    /// How long an empty slab beyond the <see cref="MinEmptySlabs"/> reserve stays committed before it goes back to
    /// the OS (a purge delay, like mimalloc's <c>purge_delay</c> or jemalloc's dirty-page decay): a workload that
    /// frees and reallocates a few slabs' worth of objects in a loop then reuses them instead of paying a
    /// syscall and page faults per slab and round.
    /// </summary>
    public const int EmptySlabDecayMilliseconds = 100;

    /// <summary>The most memory of empty slabs a cache lets decay rather than return at once.</summary>
    public const int MaxDecayingBytes = 1024 * 1024;

    /// <summary>
    /// How much memory of decayed empty slabs a cache returns to the OS per <see cref="EmptySlabDecayMilliseconds"/>
    /// (10 MiB a second): an idle cache's surplus goes back gradually, not in one burst.
    /// </summary>
    public const int DecayBytesPerInterval = 1024 * 1024;

    /// <summary>The size and alignment of an arena: the unit in which the cache takes address space from the OS.</summary>
    public const int ArenaSize = 2 * 1024 * 1024;

    /// <summary>Red-zone byte of an allocated object (the kernel's <c>SLUB_RED_ACTIVE</c>).</summary>
    public const byte RedActive = 0xcc;

    /// <summary>Red-zone byte of a free object (the kernel's <c>SLUB_RED_INACTIVE</c>).</summary>
    public const byte RedInactive = 0xbb;

    /// <summary>Poison byte of a free object (the kernel's <c>POISON_FREE</c>).</summary>
    public const byte PoisonFree = 0x6b;

    /// <summary>The last poison byte of a free object (the kernel's <c>POISON_END</c>).</summary>
    public const byte PoisonEnd = 0xa5;

    private SlabGeometry(int objectSize, int alignment, nuint pageSize)
    {
        ObjectSize = objectSize;
        Alignment = alignment;
        PageSize = (int)pageSize;
    }

    /// <summary>The size of the object type in bytes (the kernel's <c>object_size</c>).</summary>
    public int ObjectSize { get; }

    /// <summary>The alignment of every object in bytes: a power of two, at least <see cref="WordSize"/>.</summary>
    public int Alignment { get; }

    /// <summary>The page size the geometry was computed for.</summary>
    public int PageSize { get; }

    /// <summary>The distance between two objects in a slab (the kernel's <c>size</c>, /proc/slabinfo's objsize).</summary>
    public int SlotSize { get; private set; }

    /// <summary>Where the object starts inside its slot: the left red zone in debug mode, 0 otherwise.</summary>
    public int ObjectOffset { get; private set; }

    /// <summary>
    /// Where a free object keeps its free-list link, relative to the object's start; at or beyond
    /// <see cref="ObjectSize"/> when the link lives after the object.
    /// </summary>
    public int FreePointerOffset { get; private set; }

    /// <summary>The slab order: a slab spans 2^order pages.</summary>
    public int Order { get; private set; }

    /// <summary>Pages per slab.</summary>
    public int PagesPerSlab => 1 << Order;

    /// <summary>Bytes per slab; slabs are aligned to their size.</summary>
    public nuint SlabBytes => (nuint)PageSize << Order;

    /// <summary>log2 of <see cref="SlabBytes"/>.</summary>
    public int SlabShift => BitOperations.Log2(SlabBytes);

    /// <summary>Objects per slab.</summary>
    public int ObjectsPerSlab { get; private set; }

    /// <summary>Bytes left at the end of a slab after its objects.</summary>
    public int Leftover => (int)SlabBytes - ObjectsPerSlab * SlotSize;

    /// <summary>Whether each slab's <see cref="SlabHeader"/> sits in the slab's leftover space.</summary>
    public bool OnSlabMetadata { get; private set; }

    /// <summary>Offset of the <see cref="SlabHeader"/> in its slab when <see cref="OnSlabMetadata"/>.</summary>
    public int HeaderOffset => ObjectsPerSlab * SlotSize;

    /// <summary>Slabs an arena spans.</summary>
    public int SlabsPerArena => (int)((nuint)ArenaSize >> SlabShift);

    /// <summary>
    /// Off-slab metadata only: the bytes of the header table at the start of each arena (one header per slab
    /// index), rounded up to whole pages; 0 with on-slab metadata.
    /// </summary>
    public nuint HeaderTableBytes { get; private set; }

    /// <summary>Slabs at the start of an arena that hold the header table rather than objects.</summary>
    public int HeaderTableSlabs => (int)((HeaderTableBytes + SlabBytes - 1) >> SlabShift);

    /// <summary>The words of an <see cref="ObjectStartMap"/> for one slab with objects in use.</summary>
    public ulong[] ObjectStartPattern { get; private set; } = [];

    /// <summary>Debug mode: red zones around every object and checks on every alloc and free.</summary>
    public bool RedZone { get; private set; }

    /// <summary>Debug mode without TYPESAFE_BY_RCU and without a constructor: free objects are poisoned.</summary>
    public bool Poison { get; private set; }

    /// <summary>Debug mode: offset of the right red zone relative to the object (its end is <see cref="FreePointerOffset"/>).</summary>
    public int RightRedZoneOffset => ObjectSize;

    /// <summary>Empty slabs the cache keeps before returning more to the OS (the kernel's <c>min_partial</c>).</summary>
    public int MinEmptySlabs => Math.Clamp(BitOperations.Log2((uint)SlotSize) / 2, MinPartial, MaxPartial);

    /// <summary>
    /// The most empty slabs a cache keeps while few slabs hold objects, 1 MiB of them or four times the reserve:
    /// beyond this many (and beyond twice the slabs holding objects), an emptied slab goes back to the OS at
    /// once; between <see cref="MinEmptySlabs"/> and this, after <see cref="EmptySlabDecayMilliseconds"/>.
    /// </summary>
    public int MaxEmptySlabs => Math.Max(4 * MinEmptySlabs, (int)(MaxDecayingBytes >> SlabShift));

    /// <summary>
    /// Objects per magazine (the old SLAB allocator's <c>batchcount</c>, half its per-CPU <c>limit</c>, chosen from
    /// the slot size like <c>enable_cpucache</c>): a thread holds at most two magazines.
    /// </summary>
    public int MagazineSize
    {
        get
        {
            int limit = SlotSize > 131072 ? 1 : SlotSize > PageSize ? 8 : SlotSize > 1024 ? 24 : SlotSize > 256 ? 54 : 120;
            return (limit + 1) / 2;
        }
    }

    /// <summary>The largest slot a cache accepts: an arena must hold two slabs of it.</summary>
    public static int MaxSlotSize => ArenaSize / 2;

    /// <summary>
    /// Computes the layout of a cache of <paramref name="objectSize"/>-byte objects, or throws an
    /// <see cref="ArgumentException"/> naming the bad option.
    /// </summary>
    public static SlabGeometry Compute(string name, int objectSize, SlabCacheOptions options, nuint pageSize, int headerSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(objectSize);
        int alignment = ValidateAlignment(name, options.Alignment, pageSize);
        bool debug = (options.Flags & SlabFlags.Debug) != 0;
        bool rcu = (options.Flags & SlabFlags.TypesafeByRcu) != 0;
        bool constructor = options.Constructor is not null;
        ValidateFreePointerOffset(name, options.FreePointerOffset, objectSize);

        var g = new SlabGeometry(objectSize, alignment, pageSize);
        int size = AlignUp(objectSize, WordSize);
        g.RedZone = debug;

        // Poisoning would destroy what an RCU reader may still read, and what a constructor set up once.
        g.Poison = debug && !rcu && !constructor;

        int slotTail;
        if (debug)
        {
            // [left red zone][object][right red zone, at least a word][free pointer]
            g.ObjectOffset = AlignUp(WordSize, alignment);
            g.FreePointerOffset = size + WordSize;
            slotTail = g.FreePointerOffset + WordSize;
        }
        else if (options.FreePointerOffset is int chosen)
        {
            // The owner names a word that free objects do not need (the kernel's freeptr_offset).
            g.FreePointerOffset = chosen;
            slotTail = size;
        }
        else if (rcu || constructor)
        {
            // Readers or the constructor's state own every byte of a free object: the link goes after it.
            g.FreePointerOffset = size;
            slotTail = size + WordSize;
        }
        else
        {
            // The middle of the object, away from both edges, where small overruns of a neighbour do not reach.
            g.FreePointerOffset = AlignDown(objectSize / 2, WordSize);
            slotTail = size;
        }

        g.SlotSize = AlignUp(g.ObjectOffset + slotTail, alignment);
        if (g.SlotSize > MaxSlotSize)
        {
            throw new ArgumentException($"Cache '{name}': a {g.SlotSize}-byte object slot is larger than the {MaxSlotSize}-byte maximum.", nameof(objectSize));
        }

        g.Order = CalculateOrder(g.SlotSize, pageSize);
        g.ObjectsPerSlab = (int)(g.SlabBytes / (nuint)g.SlotSize);
        g.OnSlabMetadata = g.Leftover >= headerSize;
        if (!g.OnSlabMetadata)
        {
            nuint table = (nuint)(g.SlabsPerArena * headerSize);
            g.HeaderTableBytes = (table + pageSize - 1) & ~(pageSize - 1);
        }

        Debug.Assert(g.ObjectsPerSlab >= 1, "a slab must hold at least one object");
        Debug.Assert(g.SlotSize % alignment == 0 && g.ObjectOffset % alignment == 0, "objects must stay aligned");
        Debug.Assert(g.FreePointerOffset % WordSize == 0, "the free pointer must be word-aligned");
        Debug.Assert(g.HeaderTableSlabs < g.SlabsPerArena, "the header table must leave room for slabs");
        g.ObjectStartPattern = ObjectStartMap.SlabPatternOf(g);
        return g;
    }

    /// <summary>
    /// The slab order for a slot size (<c>calculate_order</c>): the smallest order from the one that holds
    /// <see cref="MinObjects"/> objects up to <see cref="MaxPreferredOrder"/> whose waste is at most 1/16 of the
    /// slab, then 1/8, then 1/4; failing that, the order of one object.
    /// </summary>
    public static int CalculateOrder(int slotSize, nuint pageSize)
    {
        int maxObjects = Math.Max(ObjectsInOrder(MaxPreferredOrder, slotSize, pageSize), 1);
        int minObjects = Math.Min(MinObjects, maxObjects);
        int minOrder = GetOrder((nuint)minObjects * (nuint)slotSize, pageSize);
        for (int fraction = 16; fraction > 1; fraction /= 2)
        {
            int order = SmallestOrderWithin(slotSize, minOrder, fraction, pageSize);
            if (order <= MaxPreferredOrder)
            {
                return order;
            }
        }

        return GetOrder((nuint)slotSize, pageSize);
    }

    /// <summary>
    /// The smallest order in [<paramref name="minOrder"/>, <see cref="MaxPreferredOrder"/>] that wastes at most
    /// 1/<paramref name="fraction"/> of the slab, or <see cref="MaxPreferredOrder"/> + 1 (<c>calc_slab_order</c>).
    /// </summary>
    private static int SmallestOrderWithin(int slotSize, int minOrder, int fraction, nuint pageSize)
    {
        int order = minOrder;
        for (; order <= MaxPreferredOrder; order++)
        {
            nuint slab = pageSize << order;
            if (slab % (nuint)slotSize <= slab / (nuint)fraction)
            {
                break;
            }
        }

        return order;
    }

    /// <summary>Objects of <paramref name="slotSize"/> bytes in a slab of <paramref name="order"/> (<c>order_objects</c>).</summary>
    private static int ObjectsInOrder(int order, int slotSize, nuint pageSize) => (int)((pageSize << order) / (nuint)slotSize);

    /// <summary>The order of the smallest power-of-two run of pages that holds <paramref name="bytes"/> (<c>get_order</c>).</summary>
    private static int GetOrder(nuint bytes, nuint pageSize)
    {
        nuint pages = (bytes + pageSize - 1) / pageSize;
        return pages <= 1 ? 0 : BitOperations.Log2(pages - 1) + 1;
    }

    private static int ValidateAlignment(string name, int alignment, nuint pageSize)
    {
        if (alignment == 0)
        {
            return WordSize;
        }

        if (alignment < 0 || !BitOperations.IsPow2(alignment))
        {
            throw new ArgumentException($"Cache '{name}': the alignment {alignment} is not a power of two.", nameof(SlabCacheOptions.Alignment));
        }

        if ((nuint)alignment > pageSize)
        {
            throw new ArgumentException($"Cache '{name}': the alignment {alignment} is larger than the page size {pageSize}.", nameof(SlabCacheOptions.Alignment));
        }

        return Math.Max(alignment, WordSize);
    }

    private static void ValidateFreePointerOffset(string name, int? offset, int objectSize)
    {
        if (offset is not int value)
        {
            return;
        }

        if (value < 0 || value > objectSize - WordSize)
        {
            throw new ArgumentOutOfRangeException(nameof(SlabCacheOptions.FreePointerOffset), value,
                $"Cache '{name}': the free pointer offset {value} puts the {WordSize}-byte free pointer outside the {objectSize}-byte object.");
        }

        if (value % WordSize != 0)
        {
            throw new ArgumentException($"Cache '{name}': the free pointer offset {value} is not a multiple of {WordSize}.", nameof(SlabCacheOptions.FreePointerOffset));
        }
    }

    /// <summary>Rounds <paramref name="value"/> up to a multiple of the power of two <paramref name="alignment"/>.</summary>
    private static int AlignUp(int value, int alignment) => (value + alignment - 1) & -alignment;

    /// <summary>Rounds <paramref name="value"/> down to a multiple of the power of two <paramref name="alignment"/>.</summary>
    private static int AlignDown(int value, int alignment) => value & -alignment;

    /// <summary>The page size of this machine, for callers that compute a geometry for it.</summary>
    public static nuint SystemPageSize => OsPages.PageSize;
}
