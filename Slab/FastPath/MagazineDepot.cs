using System;
using System.Diagnostics;
using System.Threading;

namespace VmaEngine.Slab;

/// <summary>
/// A cache's depot of full magazines, shared by all threads (Bonwick and Adams' depot; the old SLAB allocator's
/// shared array). A thread whose magazines are both full parks one here; a thread whose magazines are both
/// empty takes one. It holds a fixed number of magazines; beyond that a full magazine goes back to
/// the slabs, object by object.
/// </summary>
/// <remarks>
/// <para>
/// Working set (Bonwick and Adams' depot working-set algorithm). The depot remembers the fewest magazines it held
/// since the last <see cref="TakeUnused"/>: that many magazines sat unused through the whole interval, so the
/// cache's reap timer takes them back (the oldest, at the bottom of the stack) while the magazines in use stay.
/// A burst that fills and drains the depot within an interval keeps all of them; an idle cache loses all of them
/// within two intervals.
/// </para>
/// <para>
/// Every member takes the depot's lock and no other lock while holding it; callers may already hold their cache's
/// slab lock (the lock order is slab lock, then depot lock).
/// </para>
/// </remarks>
internal sealed unsafe class MagazineDepot
{
    /// <summary>Guards <see cref="_full"/>, <see cref="_count"/> and <see cref="_low"/>.</summary>
    private readonly Lock _lock = new();

    /// <summary>Heads of the full magazines, a stack (the most recently freed objects are reused first).</summary>
    private readonly nint[] _full;

    /// <summary>Full magazines in <see cref="_full"/>.</summary>
    private int _count;

    /// <summary>The fewest magazines <see cref="_full"/> held since the last <see cref="TakeUnused"/> (its low-water mark).</summary>
    private int _low;

    /// <summary>Creates a depot for <paramref name="capacity"/> magazines.</summary>
    public MagazineDepot(int capacity) => _full = new nint[capacity];

    /// <summary>Full magazines in the depot.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>Parks a full magazine; false when the depot is full.</summary>
    public bool TryPush(byte* magazine)
    {
        lock (_lock)
        {
            if (_count == _full.Length)
            {
                return false;
            }

            _full[_count++] = (nint)magazine;
            return true;
        }
    }

    /// <summary>Takes a full magazine, or returns null when the depot is empty.</summary>
    public byte* TryPop()
    {
        lock (_lock)
        {
            if (_count == 0)
            {
                return null;
            }

            byte* magazine = (byte*)_full[--_count];
            _low = Math.Min(_low, _count);
            return magazine;
        }
    }

    /// <summary>
    /// Takes the magazines no thread needed since the previous call (illumos' <c>kmem_depot_ws_reap</c>), the
    /// oldest first, and starts the next interval with every remaining magazine counted as unused.
    /// </summary>
    public nint[] TakeUnused()
    {
        lock (_lock)
        {
            Debug.Assert(_low <= _count, "the low-water mark cannot exceed the depot's content");
            nint[] unused = _full[.._low];
            Array.Copy(_full, _low, _full, 0, _count - _low);
            _count -= _low;
            _low = _count;
            return unused;
        }
    }

    /// <summary>Takes every full magazine.</summary>
    public nint[] TakeAll()
    {
        lock (_lock)
        {
            nint[] all = _full[.._count];
            _count = _low = 0;
            return all;
        }
    }
}
