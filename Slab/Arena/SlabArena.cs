using System;
using System.Diagnostics;
using VmaEngine.Native;

namespace VmaEngine.Slab;

/// <summary>
/// A naturally aligned 2 MiB range of address space (<see cref="SlabGeometry.ArenaSize"/>) reserved from the OS
/// in one piece and carved into slabs of one cache, so that a million objects cost a handful of host mappings
/// rather than one per slab (hosts live under <c>vm.max_map_count</c>, 65530 by default).
/// </summary>
/// <remarks>
/// <para>
/// Memory policy. The arena is reserved inaccessible. A slab's pages are committed (made read-write) when the
/// slab is first used, always at the lowest free slab index, so the committed part of an arena grows from its
/// bottom and on Linux stays one read-write mapping next to one inaccessible mapping: adjacent runs with the
/// same protection merge into one host VMA. Returning a slab's memory uses <c>MADV_DONTNEED</c> on Linux: the
/// physical pages go back to the kernel but the protection does not change, so no hole splits the mapping; a
/// returned slab that is used again reads as zeroes. On Windows, where address-space entries are not a scarce
/// resource but commit charge is, the pages are decommitted instead. Either way the arena is at most two or
/// three host mappings, and it is released whole once no slab of it is in use.
/// </para>
/// <para>
/// With off-slab metadata the first <see cref="SlabGeometry.HeaderTableSlabs"/> slabs of the arena hold the
/// header table, one <see cref="SlabHeader"/> per slab index, committed when the arena is created.
/// </para>
/// <para>
/// All members are called under the owning cache's slab lock, except <see cref="Commit"/>, which only asks the OS
/// for the pages of a slab index the caller has taken.
/// </para>
/// </remarks>
internal sealed unsafe class SlabArena
{
    /// <summary>The reservation; disposing it unmaps the whole arena.</summary>
    private readonly PageRegion _region;

    /// <summary>The owning cache's layout.</summary>
    private readonly SlabGeometry _geometry;

    /// <summary>
    /// Per slab index, its <see cref="SlabState"/>. Written under the owning cache's slab lock; read without it by
    /// the free path's ownership check (see <see cref="States"/>).
    /// </summary>
    private readonly SlabState[] _states;

    /// <summary>The object starts of the slabs in use, kept with <see cref="_states"/> for the free fast path.</summary>
    private readonly ObjectStartMap _objectStarts;

    /// <summary>No slab index below this one is free (a search hint).</summary>
    private int _searchFrom;

    private SlabArena(PageRegion region, SlabGeometry geometry, int index)
    {
        _region = region;
        _geometry = geometry;
        _states = new SlabState[geometry.SlabsPerArena];
        _objectStarts = new ObjectStartMap(geometry);
        _searchFrom = geometry.HeaderTableSlabs;
        Index = index;
    }

    /// <summary>The arena's position in its cache's arena table, recorded in its slabs' headers.</summary>
    public int Index { get; }

    /// <summary>The first byte of the arena, aligned to <see cref="SlabGeometry.ArenaSize"/>.</summary>
    public byte* Base => _region.BaseAddress;

    /// <summary>
    /// The state of every slab index. The free path reads it without the slab lock to check that a pointer lies in a
    /// slab with objects in use: for an object really in use the answer cannot change during the check (its slab
    /// cannot leave <see cref="SlabState.Partial"/> or <see cref="SlabState.Full"/> before the object comes back),
    /// and for any other pointer a stale answer is one of the states it had. Once the arena is released the
    /// array stays as it was (no slab taken), so a thread that kept a reference to it reads no slab in use.
    /// </summary>
    public SlabState[] States => _states;

    /// <summary>
    /// The object starts of the slabs with objects in use (<see cref="ObjectStartMap"/>), read without the slab lock
    /// by the free fast path; like <see cref="States"/>, left all clear once the arena is released.
    /// </summary>
    public ulong[] ObjectStarts => _objectStarts.Words;

    /// <summary>Slabs currently taken.</summary>
    public int TakenSlabs { get; private set; }

    /// <summary>Bytes committed for the header table (0 with on-slab metadata).</summary>
    public nuint HeaderTableBytes => _geometry.HeaderTableBytes;

    /// <summary>Reserves a new arena, or returns null when the OS refuses the address space or the commit.</summary>
    public static SlabArena? TryCreate(SlabGeometry geometry, int index)
    {
        PageRegion region;
        try
        {
            region = OsPages.Reserve(SlabGeometry.ArenaSize, SlabGeometry.ArenaSize);
        }
        catch (OsPagesException)
        {
            return null;
        }

        try
        {
            if (geometry.HeaderTableBytes != 0)
            {
                region.Commit(0, geometry.HeaderTableBytes);
            }
        }
        catch (OsPagesException)
        {
            region.Dispose();
            return null;
        }

        return new SlabArena(region, geometry, index);
    }

    /// <summary>
    /// Takes the lowest free slab index and marks it <see cref="SlabState.Carving"/>, or returns -1 when the arena is
    /// full. Commits nothing.
    /// </summary>
    public int TakeSlot()
    {
        for (int i = _searchFrom; i < _states.Length; i++)
        {
            if (!SlabStates.IsTaken(_states[i]))
            {
                _states[i] = SlabState.Carving;
                _searchFrom = i + 1;
                TakenSlabs++;
                return i;
            }
        }

        _searchFrom = _states.Length;
        return -1;
    }

    /// <summary>
    /// Gives back a slab index taken by <see cref="TakeSlot"/> whose memory is not (or no longer) committed; it
    /// becomes <paramref name="state"/>: <see cref="SlabState.Unused"/> when it was never carved, <see cref="SlabState.Returned"/> when it was.
    /// </summary>
    public void FreeSlot(int index, SlabState state)
    {
        Debug.Assert(IsTaken(index), "freeing a slab index that is not taken");
        Debug.Assert(!SlabStates.IsTaken(state), "a freed slab index must be left untaken");
        WriteState(index, state);
        _searchFrom = Math.Min(_searchFrom, index);
        TakenSlabs--;
    }

    /// <summary>Whether the slab at <paramref name="index"/> is taken.</summary>
    public bool IsTaken(int index) => SlabStates.IsTaken(_states[index]);

    /// <summary>The state of the slab at <paramref name="index"/>.</summary>
    public SlabState StateOf(int index) => _states[index];

    /// <summary>Moves the taken slab at <paramref name="index"/> to <paramref name="state"/>, another taken state.</summary>
    public void SetState(int index, SlabState state)
    {
        Debug.Assert(IsTaken(index) && SlabStates.IsTaken(state), "only a taken slab moves between the taken states");
        WriteState(index, state);
    }

    /// <summary>Records <paramref name="state"/> for the slab at <paramref name="index"/>, and its object starts when it starts or stops having objects in use.</summary>
    private void WriteState(int index, SlabState state)
    {
        bool inUse = SlabStates.HasObjectsInUse(state);
        if (inUse != SlabStates.HasObjectsInUse(_states[index]))
        {
            _objectStarts.Mark(index, inUse);
        }

        _states[index] = state;
    }

    /// <summary>The first byte of the slab at <paramref name="index"/>.</summary>
    public byte* SlabBase(int index) => Base + ((nuint)index << _geometry.SlabShift);

    /// <summary>Makes the slab's pages read-write; throws <see cref="OsPagesException"/> when the OS refuses.</summary>
    public void Commit(int index) => _region.Commit(SlabOffset(index), _geometry.SlabBytes);

    /// <summary>
    /// Returns the slab's physical memory to the OS (see the class remarks) and frees its index, which becomes
    /// <see cref="SlabState.Returned"/>.
    /// </summary>
    public void ReturnSlab(int index)
    {
        if (OperatingSystem.IsWindows())
        {
            _region.Decommit(SlabOffset(index), _geometry.SlabBytes);
        }
        else
        {
            _region.AdviseDontNeed(SlabOffset(index), _geometry.SlabBytes);
        }

        FreeSlot(index, SlabState.Returned);
    }

    /// <summary>Unmaps the whole arena. Only when no slab is taken.</summary>
    public void Release()
    {
        Debug.Assert(TakenSlabs == 0, "releasing an arena that still has slabs");
        _region.Dispose();
    }

    private nuint SlabOffset(int index) => (nuint)index << _geometry.SlabShift;
}
