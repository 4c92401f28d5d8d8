using System;

namespace VmaEngine.Slab;

/// <summary>
/// The calling thread's counter in each RCU flavour (its <see cref="RcuThreadRecord.Counter"/>), null until the
/// thread enters its first <see cref="Rcu"/> section or registers with <see cref="RcuQsbr"/>.
/// </summary>
/// <remarks>
/// These fields sit in a class of their own, with no static constructor, for the read side's speed: the runtime
/// keeps a few bytes of unmanaged thread statics directly in each thread's own data block, at a fixed offset from
/// the thread-local base (one addition after the thread-local lookup, where statics kept elsewhere cost three
/// dependent loads), and it grants that place only to a class whose static constructor has run or does not exist.
/// <see cref="Rcu"/> and <see cref="RcuQsbr"/> have static constructors (their domains).
/// </remarks>
internal static unsafe class RcuThreadCounters
{
    /// <summary>The counter of <see cref="Rcu"/>, the memory-barrier flavour.</summary>
    [ThreadStatic]
    public static PaddedCounter* Memb;

    /// <summary>The counter of <see cref="RcuQsbr"/>, while the thread is registered.</summary>
    [ThreadStatic]
    public static PaddedCounter* Qsbr;
}
