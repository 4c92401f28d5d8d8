using System.Diagnostics;
using VmaEngine.Vma.Locking;

namespace VmaEngine.Vma.Tree;

/// <summary>
/// The VMA iterator of Linux v6.15 <c>mm/vma.h</c> (<c>struct vma_iterator</c>, a maple state over <c>mm_mt</c>),
/// built on the <see cref="VmaTree"/> API: a cursor over the ranges of the tree, entries and gaps alike, plus the
/// range the next preallocation and store will write.
/// </summary>
/// <remarks>
/// <para>Positions follow the maple state's: after <see cref="Set"/> the iterator is at an address (not yet walked);
/// a lookup leaves it on one range <c>[Address, End)</c>, which is either a VMA or the gap between two; running off
/// the top leaves it in overflow (the next <see cref="Prev"/> comes back to what is there), running off the bottom
/// in underflow (the next <see cref="Find"/> starts again where it was).</para>
/// <para>Writers (mmap_lock held for write) use every member; readers under mmap_lock for read use only the lookups.
/// A write is <see cref="Config"/>, then <see cref="Prealloc"/> (the only step that may fail, changing nothing), then
/// one store that cannot fail.</para>
/// </remarks>
internal unsafe struct VmaIterator
{
    /// <summary>The exclusive end of the last gap: the top of the address space.</summary>
    public const ulong Top = ulong.MaxValue;

    private readonly AddressSpace _mm;
    private ulong _index;
    private ulong _end;
    private Status _status;

    /// <summary>The leaf of the last lookup, where the next one starts if it is still current.</summary>
    private LeafHint _hint;

    /// <summary>
    /// The leaf <see cref="_hint"/> held before its last move to another leaf: a step back after a step forward
    /// across a leaf's edge (the gather's <c>vma_iter_prev_range</c> after <c>vma_next</c>, the <c>vma_prev</c> of
    /// <c>vma_iter_next_rewind</c>) starts there instead of walking from the root, as the maple state's moves
    /// between neighbouring nodes do.
    /// </summary>
    private LeafHint _previousHint;

    /// <summary>
    /// <c>VMA_ITERATOR(name, mm, addr)</c>: an iterator of <paramref name="mm"/> at <paramref name="address"/>. Its
    /// first lookup starts from the leaf of the tree's last store when that is still current and covers the address
    /// (mmap_lock is held, so no store runs while the hint is read).
    /// </summary>
    public VmaIterator(AddressSpace mm, ulong address)
    {
        _mm = mm;
        _index = address;
        _end = address;
        _status = Status.Start;
        _hint = mm.Tree.StoreHint;
    }

    private enum Status
    {
        /// <summary>At <see cref="_index"/>, not walked yet (<c>ma_start</c>).</summary>
        Start,

        /// <summary>On the range [<see cref="_index"/>, <see cref="_end"/>) (<c>ma_active</c>).</summary>
        Active,

        /// <summary>Ran past the top; <see cref="_index"/> is where the search stopped (<c>ma_overflow</c>).</summary>
        Overflow,

        /// <summary>Ran below the first range (<c>ma_underflow</c>).</summary>
        Underflow,
    }

    /// <summary>The address space iterated.</summary>
    public readonly AddressSpace Mm => _mm;

    /// <summary>The start of the current range (<c>vma_iter_addr</c>).</summary>
    public readonly ulong Address => _index;

    /// <summary>The exclusive end of the current range (<c>vma_iter_end</c>).</summary>
    public readonly ulong End => _end;

    private readonly VmaTree Tree => _mm.Tree;

    /// <summary><c>vma_iter_set</c>: moves to <paramref name="address"/>; the next lookup walks from there.</summary>
    public void Set(ulong address)
    {
        _index = address;
        _end = address;
        _status = Status.Start;
    }

    /// <summary><c>vma_iter_reset</c>: forgets the current range; the next lookup walks from <see cref="Address"/>.</summary>
    public void Reset() => _status = Status.Start;

    /// <summary><c>vma_iter_config</c>: sets the range [<paramref name="start"/>, <paramref name="end"/>) the next preallocation and store write.</summary>
    public void Config(ulong start, ulong end)
    {
        Debug.Assert(start < end, "vma_iter_config of an empty range");
        _index = start;
        _end = end;
        _status = Status.Active;
    }

    /// <summary><c>vma_iter_load</c>: the VMA containing <see cref="Address"/>, or null; the iterator is left on that range.</summary>
    public VmArea* Load()
    {
        VmArea* vma = RangeAt(_index, out _index, out _end);
        _status = Status.Active;
        return vma;
    }

    /// <summary><c>vma_next</c>: the next VMA (from a fresh position, the one containing or following the address).</summary>
    public VmArea* Next() => Find(Top);

    /// <summary>
    /// <c>vma_find(vmi, max)</c>: the next VMA that starts below <paramref name="max"/>, or null (overflow) when
    /// there is none.
    /// </summary>
    public VmArea* Find(ulong max)
    {
        ulong from = _status is Status.Active or Status.Overflow ? _end : _index;
        VmArea* vma = FindAtOrAfter(from, max, out ulong start, out ulong end);
        if (vma == null)
        {
            _index = _end = from;
            _status = Status.Overflow;
            return null;
        }

        SetActive(start, end);
        return vma;
    }

    /// <summary>
    /// <c>vma_prev</c>: the VMA before the current range (skipping gaps), or null (underflow, the iterator then on the
    /// gap at the bottom).
    /// </summary>
    public VmArea* Prev()
    {
        ulong below;
        switch (_status)
        {
            case Status.Start:
                RangeAt(_index, out below, out _);
                break;
            case Status.Overflow:
                // The overflow position counts as one past the VMA there, as in the maple state.
                VmArea* here = RangeAt(_index, out ulong start, out ulong end);
                if (here != null)
                {
                    SetActive(start, end);
                    return here;
                }

                below = start;
                break;
            case Status.Underflow:
                return null;
            default:
                below = _index;
                break;
        }

        ulong prevStart = 0;
        ulong prevEnd = 0;
        VmArea* prev = below == 0 ? null : FindBefore(below, out prevStart, out prevEnd);
        if (prev == null)
        {
            // Like the maple state, stop on the first range (the gap from 0), from which a find starts again.
            _index = 0;
            _end = below;
            _status = Status.Underflow;
            return null;
        }

        SetActive(prevStart, prevEnd);
        return prev;
    }

    /// <summary><c>vma_iter_next_range</c>: moves to the range (VMA or gap) after the current one; returns its VMA or null.</summary>
    public VmArea* NextRange()
    {
        WalkIfNotActive();
        if (_end == Top)
        {
            _status = Status.Overflow;
            return null;
        }

        return RangeAt(_end, out _index, out _end);
    }

    /// <summary><c>vma_iter_prev_range</c>: moves to the range (VMA or gap) before the current one; returns its VMA or null.</summary>
    public VmArea* PrevRange()
    {
        WalkIfNotActive();
        if (_index == 0)
        {
            _status = Status.Underflow;
            return null;
        }

        return RangeAt(_index - 1, out _index, out _end);
    }

    /// <summary>
    /// <c>vma_iter_next_rewind</c>: the next VMA, with <paramref name="prev"/> the VMA before it; the iterator is left
    /// on the range after <paramref name="prev"/> (the gap a new VMA would fill).
    /// </summary>
    public VmArea* NextRewind(out VmArea* prev)
    {
        VmArea* next = Next();
        prev = Prev();
        if (prev != null)
        {
            NextRange();
        }

        return next;
    }

    /// <summary>
    /// <c>vma_iter_prealloc</c>: reserves what a store over the configured range needs. An allocation point:
    /// <see cref="Errno.ENOMEM"/> when it fails (also when a failure is injected), and then nothing changed.
    /// </summary>
    public readonly Errno Prealloc()
    {
        if (_mm.Faults.ShouldFail() || !Tree.Preallocate(_index, _end))
        {
            return Errno.ENOMEM;
        }

        return Errno.None;
    }

    /// <summary>
    /// <c>vma_iter_store_new</c>: stores a detached, write-locked VMA over its range (after <see cref="Prealloc"/>)
    /// and publishes it as attached.
    /// </summary>
    public void StoreNew(VmArea* vma)
    {
        StoreRange(vma);
        VmaLock.MarkAttached(vma);
    }

    /// <summary><c>vma_iter_store_overwrite</c>: stores an attached VMA over its (new) range, after <see cref="Prealloc"/>.</summary>
    public void StoreOverwrite(VmArea* vma)
    {
        Debug.Assert(VmaLock.IsAttached(vma), "vma_iter_store_overwrite of a detached VMA");
        StoreRange(vma);
    }

    /// <summary><c>vma_iter_clear</c>: erases the configured range, after <see cref="Prealloc"/>.</summary>
    public void Clear()
    {
        Tree.Store(_index, _end, null);
        _hint = Tree.StoreHint;
    }

    /// <summary><c>vma_iter_clear_gfp</c>: erases [<paramref name="start"/>, <paramref name="end"/>), allocating as needed; ENOMEM changes nothing.</summary>
    public Errno ClearGfp(ulong start, ulong end)
    {
        Config(start, end);
        Errno error = Prealloc();
        if (error == Errno.None)
        {
            Clear();
        }

        return error;
    }

    /// <summary>
    /// <c>vma_iter_store_gfp</c>: stores a detached, write-locked VMA over its range, allocating as needed, and
    /// marks it attached; ENOMEM changes nothing.
    /// </summary>
    public Errno StoreNewGfp(VmArea* vma)
    {
        Config(vma->VmStart, vma->VmEnd);
        Errno error = Prealloc();
        if (error == Errno.None)
        {
            StoreNew(vma);
        }

        return error;
    }

    private void StoreRange(VmArea* vma)
    {
        Debug.Assert(vma->VmStart < vma->VmEnd, "storing a VMA with an empty range");
        Tree.Store(vma->VmStart, vma->VmEnd, vma);
        _hint = Tree.StoreHint;
        SetActive(vma->VmStart, vma->VmEnd);
    }

    private void SetActive(ulong start, ulong end)
    {
        _index = start;
        _end = end;
        _status = Status.Active;
    }

    private void WalkIfNotActive()
    {
        if (_status != Status.Active)
        {
            Load();
        }
    }

    /// <summary>
    /// <see cref="VmaTree.FindAtOrAfter(ulong, ulong, ref LeafHint, out ulong, out ulong)"/> starting from whichever of
    /// the two remembered leaves covers <paramref name="address"/>.
    /// </summary>
    private VmArea* FindAtOrAfter(ulong address, ulong limit, out ulong start, out ulong end)
    {
        LeafHint before = TakeHintFor(address);
        VmArea* vma = Tree.FindAtOrAfter(address, limit, ref _hint, out start, out end);
        KeepPreviousHint(before);
        return vma;
    }

    /// <summary>
    /// <see cref="VmaTree.FindBefore(ulong, ulong, ref LeafHint, out ulong, out ulong)"/> (no limit) starting from
    /// whichever of the two remembered leaves covers the index below <paramref name="address"/>.
    /// </summary>
    private VmArea* FindBefore(ulong address, out ulong start, out ulong end)
    {
        LeafHint before = TakeHintFor(address - 1);
        VmArea* vma = Tree.FindBefore(address, 0, ref _hint, out start, out end);
        KeepPreviousHint(before);
        return vma;
    }

    /// <summary>Makes <see cref="_previousHint"/> the current hint when only it covers <paramref name="index"/>; returns the hint the lookup starts with.</summary>
    private LeafHint TakeHintFor(ulong index)
    {
        ulong version = Tree.Version;
        if (!_hint.Covers(index, version) && _previousHint.Covers(index, version))
        {
            (_hint, _previousHint) = (_previousHint, _hint);
        }

        return _hint;
    }

    /// <summary>After a lookup that moved the hint to another leaf, remembers the leaf it left.</summary>
    private void KeepPreviousHint(LeafHint before)
    {
        if (before.Leaf != null && before.Leaf != _hint.Leaf)
        {
            _previousHint = before;
        }
    }

    /// <summary>The range containing <paramref name="address"/>: its VMA, or null and the bounds of the gap.</summary>
    private VmArea* RangeAt(ulong address, out ulong start, out ulong end)
    {
        LeafHint before = TakeHintFor(address);
        VmArea* vma = Tree.RangeAt(address, ref _hint, out start, out ulong last);
        KeepPreviousHint(before);
        Debug.Assert(vma == null || last != ulong.MaxValue, "a stored range ends at 2^64");
        end = last == ulong.MaxValue ? Top : last + 1;
        return vma;
    }
}
