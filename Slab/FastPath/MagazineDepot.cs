using System.Threading;

namespace Slab;

/// <summary>
/// A cache's depot of full magazines, shared by all threads (Bonwick and Adams' depot; the old SLAB allocator's
/// shared array). A thread whose magazines are both full parks one here; a thread whose magazines are both
/// empty takes one. It holds a fixed number of magazines; beyond that a full magazine goes back to
/// the slabs, object by object.
/// </summary>
/// <remarks>
/// Every member takes the depot's lock and no other lock while holding it; callers may already hold their cache's
/// slab lock (the lock order is slab lock, then depot lock).
/// </remarks>
internal sealed unsafe class MagazineDepot
{
    /// <summary>Guards <see cref="_full"/> and <see cref="_count"/>.</summary>
    private readonly Lock _lock = new();

    /// <summary>Heads of the full magazines, a stack (the most recently freed objects are reused first).</summary>
    private readonly nint[] _full;

    /// <summary>Full magazines in <see cref="_full"/>.</summary>
    private int _count;

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
            return _count == 0 ? null : (byte*)_full[--_count];
        }
    }

    /// <summary>Takes every full magazine.</summary>
    public nint[] TakeAll()
    {
        lock (_lock)
        {
            nint[] all = _full[.._count];
            _count = 0;
            return all;
        }
    }
}
