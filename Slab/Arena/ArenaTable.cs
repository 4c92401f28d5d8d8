using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace VmaEngine.Slab;

/// <summary>
/// A cache's arenas by base address, read without a lock: the free path's answer to "is this address inside an
/// arena of this cache?", computed from the address alone (arenas are naturally aligned, so masking an address
/// gives the only base it can belong to) and from memory the cache owns, never from the address's own memory.
/// </summary>
/// <remarks>
/// An immutable open-addressing hash table keyed by the arena number (base / <see cref="SlabGeometry.ArenaSize"/>),
/// with linear probing and at least twice as many slots as arenas. The cache replaces its table, under its slab
/// lock, whenever it reserves or releases an arena (a rare event beside the 2 MiB of memory it concerns), and
/// publishes the new one with a release store; a reader uses whichever table it loaded, whole.
/// </remarks>
internal sealed unsafe class ArenaTable
{
    /// <summary>The table of a cache that holds no arena.</summary>
    public static readonly ArenaTable Empty = new([]);

    /// <summary>The fewest slots a table of at least one arena has.</summary>
    private const int MinSlots = 4;

    /// <summary>The arenas, each at the first free slot from its home slot on; null slots end a probe.</summary>
    private readonly SlabArena?[] _slots;

    private ArenaTable(SlabArena[] arenas)
    {
        Count = arenas.Length;
        _slots = new SlabArena?[arenas.Length == 0 ? 1 : (int)BitOperations.RoundUpToPowerOf2((uint)(2 * arenas.Length + MinSlots))];
        foreach (SlabArena arena in arenas)
        {
            int slot = HomeSlot((nuint)arena.Base);
            while (_slots[slot] is not null)
            {
                slot = (slot + 1) & (_slots.Length - 1);
            }

            _slots[slot] = arena;
        }
    }

    /// <summary>Arenas in the table.</summary>
    public int Count { get; }

    /// <summary>The naturally aligned arena base that <paramref name="address"/> would belong to.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nuint ArenaBaseOf(void* address) => (nuint)address & ~((nuint)SlabGeometry.ArenaSize - 1);

    /// <summary>The arena of the table whose range holds <paramref name="address"/>, or null.</summary>
    public SlabArena? Find(void* address)
    {
        nuint arenaBase = ArenaBaseOf(address);
        for (int slot = HomeSlot(arenaBase); ; slot = (slot + 1) & (_slots.Length - 1))
        {
            SlabArena? arena = _slots[slot];
            if (arena is null || (nuint)arena.Base == arenaBase)
            {
                return arena;
            }
        }
    }

    /// <summary>A new table with <paramref name="arena"/> added.</summary>
    public ArenaTable With(SlabArena arena)
    {
        Debug.Assert(Find(arena.Base) is null, "the arena is already in the table");
        return new ArenaTable([.. Arenas(), arena]);
    }

    /// <summary>A new table without <paramref name="arena"/>.</summary>
    public ArenaTable Without(SlabArena arena)
    {
        Debug.Assert(Find(arena.Base) == arena, "the arena is not in the table");
        return new ArenaTable([.. Arenas().Where(kept => kept != arena)]);
    }

    /// <summary>The table's arenas, in slot order.</summary>
    private IEnumerable<SlabArena> Arenas() => _slots.OfType<SlabArena>();

    /// <summary>
    /// Where the probe for the arena at <paramref name="arenaBase"/> starts: its arena number modulo the table size,
    /// so that arenas reserved next to one another (the usual case) take consecutive slots.
    /// </summary>
    private int HomeSlot(nuint arenaBase) => (int)(arenaBase / SlabGeometry.ArenaSize) & (_slots.Length - 1);
}
